// Starts the bundled Swagger UI on the API's description (no inline script: the CSP).
"use strict";
const docsRoot = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: docsRoot.dataset.openapi, dom_id: "#swagger-ui", deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout",
  oauth2RedirectUrl: `${window.location.origin}/docs/oauth2-redirect`,
});
