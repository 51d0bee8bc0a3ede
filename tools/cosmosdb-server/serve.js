#!/usr/bin/env node
// Starts @vercel/cosmosdb-server over plain HTTP on loopback for the store contract tests.
//
// Usage: node serve.js [--port N]   (default 0: the OS picks a free port)
// Prints one line "listening <host>:<port>" once ready, then serves until killed.
//
// Known gaps of the server that this launcher corrects, so that the production adapter can be
// written for real Cosmos DB (see tests/agentops/store/conftest.py for the full list):
// - a point read of a missing document answers 500 (TypeError in read-document) instead of 404.
// - a query scoped to a feed range (partition key range id header) without a filter on the
//   partition key is refused with "missing partition keys"; Cosmos DB runs it on that range. The
//   server has one range, the whole container, so such a query runs across it.
"use strict";

const path = require("path");

const lib = path.join(__dirname, "node_modules", "@vercel", "cosmosdb-server", "lib");

// Patch the handler before routes.js captures it.
const readDocument = require(path.join(lib, "handler", "read-document"));
const { parsePartitionKey } = require(path.join(lib, "utils", "get-partition-from-header"));
const originalRead = readDocument.default;
readDocument.default = (account, req, res, params) => {
  const collection = account.database(params.dbId).collection(params.collId);
  if (collection.read()) {
    const header = req.headers["x-ms-documentdb-partitionkey"];
    const key = parsePartitionKey(Array.isArray(header) ? header[0] : header, params.docId);
    if (!collection.document(params.docId, key).read()) {
      res.statusCode = 404;
      return { code: "NotFound", message: "Entity with the specified id does not exist in the system." };
    }
  }
  return originalRead(account, req, res, params);
};

const queryDocuments = require(path.join(lib, "handler", "query-documents"));
const originalQuery = queryDocuments.default;
queryDocuments.default = (account, req, res, params) => {
  if (req.headers["x-ms-documentdb-partitionkeyrangeid"] !== undefined) {
    req.headers["x-ms-documentdb-query-enablecrosspartition"] = "true";
  }
  return originalQuery(account, req, res, params);
};

const { createHttpServer } = require(lib);

const argv = process.argv.slice(2);
const portIndex = argv.indexOf("--port");
const port = portIndex >= 0 ? parseInt(argv[portIndex + 1], 10) : 0;

const server = createHttpServer().listen(port, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`listening ${address.address}:${address.port}\n`);
});

// The store is in memory: nothing to flush, so exit at once (keep-alive sockets would stall close).
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => process.exit(0));
}
