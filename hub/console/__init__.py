"""The registry staff's web console, served by the hub process beside its gRPC services.

Reviewers work the post-review queue, registry clerks look vehicles and labels up, administrators
see stations and keys; everyone sees the dashboard. Pages are rendered on the server (Starlette and
Jinja2 templates shipped in the package, no build step) and call the same service layer the gRPC
APIs do (``hub.review_queue``, ``hub.label_book``, ``hub.vehicle_history``, ``hub.directory``):
the rules live there, not here.

- ``roles``: the staff roles and which page each may use (one table, deny by default);
- ``staff_directory``: people, their role and an Argon2id hash of the password the hub issued;
- ``sessions``: signed-in sessions in the hub's database (expiry, CSRF token per session);
- ``csrf``: the CSRF checks every form goes through;
- ``curve_chart``: brake-force curves drawn as a PNG (matplotlib);
- ``dashboard``: per-station pass rates, anomaly counts, ingest over time (queries);
- ``app`` and the ``*_pages`` modules: the Starlette application and its pages;
- served by ``web_serving.asgi_server`` inside the hub's event loop (``hub.server``), with the
  sign-in throttle of ``web_serving.sign_in_throttle``.
"""
