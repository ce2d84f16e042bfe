// The API reference at /docs: Swagger UI (bundled in the image, no CDN) over /openapi.json. No inline
// script (the page's Content-Security-Policy allows this origin's files only). The token typed into
// "Authorize" stays in this page's memory: it is not persisted anywhere.
"use strict";

// Each operation's code samples (x-codeSamples: curl and the Python client) shown under its description.
function withSamples(doc) {
  for (const item of Object.values(doc.paths || {})) {
    for (const op of Object.values(item)) {
      const samples = op && op["x-codeSamples"];
      if (!samples) continue;
      const blocks = samples.map((s) => `**${s.label}**\n\n\`\`\`${s.lang === "Shell" ? "bash" : s.lang.toLowerCase()}\n${s.source}\n\`\`\``);
      op.description = `${op.description || ""}\n\n${blocks.join("\n\n")}`;
    }
  }
  return doc;
}

async function start() {
  const root = document.getElementById("swagger-ui");
  const resp = await fetch(root.dataset.spec);
  const doc = withSamples(await resp.json());
  window.ui = SwaggerUIBundle({
    spec: doc,
    domNode: root,
    deepLinking: true,
    persistAuthorization: false,
    displayRequestDuration: true,
    defaultModelsExpandDepth: 0,
    docExpansion: "list",
    filter: true,
    tryItOutEnabled: false,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
}

start();
