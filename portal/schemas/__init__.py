"""The API's wire shapes (pydantic), one module per resource, kept apart from the
stored tables: `...Public` answers, `...In` and `...Change` requests."""
