/* /docs: Swagger UI from static/vendor/swagger-ui, started from this file because the page's CSP allows
   no inline script. The options are FastAPI's (get_swagger_ui_html), without the online validator. */
(function () {
  "use strict";
  const box = document.getElementById("swagger-ui");
  window.ui = window.SwaggerUIBundle({
    url: box.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
})();
