"""The staff console (工作台): a Sanic web app for counter staff, trainers and supervisors.

    python -m bot console                  # http://localhost:5010/ (CONSOLE_PORT)
    python -m bot users add 张三 --role staff

Modules: app (the Sanic app and its start-up), auth (password hashing, sessions, CSRF, roles),
accounts (the users and sessions tables, in the work-order database), views (the routes),
pages (HTML, every value escaped), export (CSV), cli (the ``console`` and ``users`` subcommands).
"""
