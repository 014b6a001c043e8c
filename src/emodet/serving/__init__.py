"""``emodet serve``: emotion detection as an HTTP service and a live webcam page.

:mod:`emodet.serving.engine` runs the model (faces of concurrent requests classified together),
:mod:`emodet.serving.app` is the FastAPI application (routes, limits, WebSocket stream),
:mod:`emodet.serving.schemas` declares its JSON, and ``static/`` holds the page. FastAPI and
uvicorn are imported only here, never by the rest of emodet.
"""
