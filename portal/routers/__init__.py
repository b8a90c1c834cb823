"""The JSON API, one router per resource (each module's `router`); `portal.app`
includes them all. Routers check who may call, read through `portal.queries`, change
through the service layer, and turn its errors into HTTP errors."""
