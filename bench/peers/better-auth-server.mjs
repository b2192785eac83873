// Minimal better-auth server for bench/run.sh: email + password, SQLite
// (better-sqlite3), rate limiter OFF (the bench measures throughput).
// usage: node better-auth-server.mjs PORT DBPATH
import http from "node:http";
import Database from "better-sqlite3";
import { betterAuth } from "better-auth";
import { toNodeHandler } from "better-auth/node";
import { getMigrations } from "better-auth/db/migration";

const port = Number(process.argv[2] || 3000);
const dbPath = process.argv[3] || "better-auth.db";
const db = new Database(dbPath);
db.pragma("journal_mode = WAL");

const options = {
  database: db,
  baseURL: `http://127.0.0.1:${port}`,
  secret: "bench-secret-bench-secret-bench-secret-0123456789",
  emailAndPassword: { enabled: true },
  rateLimit: { enabled: false },
  logger: { level: "error" },
  telemetry: { enabled: false },
};
const auth = betterAuth(options);
const { runMigrations } = await getMigrations(auth.options);
await runMigrations();

const handler = toNodeHandler(auth);
http.createServer(handler).listen(port, "127.0.0.1", () => {
  process.stdout.write(`better-auth listening on 127.0.0.1:${port}\n`);
});
