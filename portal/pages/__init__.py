"""The HTML pages (left out of the OpenAPI schema), one router per audience: staff
(`staff`), the engineer's app (`engineer`), the customer's QR pages (`customer`),
and logging in (`login`). They render `portal/templates` through `portal.rendering`
and call the same service functions as the JSON API."""
