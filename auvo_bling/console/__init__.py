"""The web console: the activation guide's panel (setup, options, "Autorizar", companies) in a browser.

Server-rendered (Starlette + Jinja2) with a little plain JavaScript shipped in `static/`, so it
works with no internet. Every route but the login page and the static files needs a session; every
state-changing request needs the session's CSRF token. The pages call the same code as the CLI.
"""
