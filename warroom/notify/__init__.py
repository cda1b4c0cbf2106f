"""Alerts that reach people: receivers, routes, grouping, inhibition and the room's outbox.

- `config.py`: the `[notify]` models (receivers, routes, inhibition rules);
- `routing.py`: which alerts go to whom and when (pure, on the recorder's tick);
- `message.py`: the notification every receiver formats, and its documented JSON;
- `receivers.py`: each service's format and transport;
- `service.py`: the recorder's part: queue in the room's outbox, deliver, keep the view;
- `view.py`: what the screen shows of it (in the room's snapshot);
- `command.py`: `warroom notify test RECEIVER`.
"""
