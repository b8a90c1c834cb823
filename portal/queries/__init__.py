"""Read queries behind the API and the pages, one module per resource: the routers
stay free of SQL. Writes go through the service layer (`service/`)."""
