// Floe from TypeScript with Connect: log in, create a namespace, a user and
// a USER table, write and read rows as that user, and decode a typed error.
//
//   FLOE_ROOT_PASSWORD=… FLOE_SERVER=http://127.0.0.1:7878 npx tsx src/example.ts
import { fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import { ListValueSchema, ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { pathToFileURL } from "node:url";
import { AuthService } from "./gen/floe/v1/auth_pb.js";
import { ErrorDetailSchema, QueryService } from "./gen/floe/v1/query_pb.js";

export type Floe = Client<typeof QueryService>;

// login returns a QueryService client whose calls carry the user's token.
export async function login(baseUrl: string, user: string, password: string): Promise<Floe> {
  const auth = createClient(AuthService, createConnectTransport({ baseUrl, httpVersion: "1.1" }));
  const { accessToken } = await auth.login({ user, password });
  const bearer: Interceptor = (next) => (req) => {
    req.header.set("Authorization", `Bearer ${accessToken}`);
    return next(req);
  };
  return createClient(QueryService, createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [bearer] }));
}

// sql runs statements with $1, $2, … bound to params and returns the rows of
// the last one as JSON arrays (BIGINT comes back as a string).
export async function sql(floe: Floe, text: string, ...params: JsonValue[]): Promise<JsonValue[][]> {
  const res = await floe.executeSQL({ sql: text, params: params.map((p) => fromJson(ValueSchema, p)) });
  const last = res.results[res.results.length - 1];
  return (last?.rows ?? []).map((row) => toJson(ListValueSchema, row) as JsonValue[]);
}

export interface ExampleResult {
  rows: JsonValue[][]; // alice's notes
  error: { connectCode: string; floeCode: string }; // from SELECT * FROM app.missing
}

export async function main(
  baseUrl = process.env.FLOE_SERVER ?? "http://127.0.0.1:7878",
  rootPassword = process.env.FLOE_ROOT_PASSWORD ?? "",
  log: (line: string) => void = console.log,
): Promise<ExampleResult> {
  const root = await login(baseUrl, "root", rootPassword);
  await sql(root, `CREATE NAMESPACE IF NOT EXISTS app;
    CREATE USER IF NOT EXISTS alice WITH PASSWORD 'alice-pass-1';
    CREATE USER TABLE IF NOT EXISTS app.notes (id BIGINT PRIMARY KEY, body TEXT)`);
  log("root: created namespace app, user alice, user table app.notes");

  // A USER table keeps one partition per user: alice reads and writes hers.
  const alice = await login(baseUrl, "alice", "alice-pass-1");
  await sql(alice, `INSERT INTO app.notes VALUES ($1, $2), ($3, $4)
    ON CONFLICT (id) DO UPDATE SET body = excluded.body`, 1, "hello from alice", 2, "buy milk");
  const rows = await sql(alice, "SELECT id, body FROM app.notes ORDER BY id");
  for (const [id, body] of rows) log(`alice: note ${id}: ${body}`);

  // Errors are ConnectErrors with a floe.v1.ErrorDetail in their details.
  const error = { connectCode: "", floeCode: "" };
  try {
    await sql(alice, "SELECT * FROM app.missing");
  } catch (err) {
    const e = ConnectError.from(err);
    const [detail] = e.findDetails(ErrorDetailSchema);
    error.connectCode = Code[e.code];
    error.floeCode = detail?.code ?? "";
    log(`alice: error ${error.connectCode} / ${error.floeCode}: ${e.rawMessage}`);
  }
  return { rows, error };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
