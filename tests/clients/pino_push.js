// Pushes lines through pino with the pino-loki transport (JSON bodies) to the Loki URL in
// argv[2]: one pino log per argv[3..] with `meta: {trace_id: "trace-<index>"}` (pushed as
// structured metadata) and labels {app="pino"}; exits when all are sent.
const pino = require("pino");
const { pinoLoki } = require("pino-loki");

const [host, ...lines] = process.argv.slice(2);
const transport = pinoLoki({
  host,
  labels: { app: "pino" },
  batching: { interval: 0.2 },
  silenceErrors: false,
});
const logger = pino({ base: { hostname: "test-host" } }, transport);
lines.forEach((line, index) => {
  logger.info({ meta: { trace_id: `trace-${index}` } }, line);
});
setTimeout(() => {
  transport.end();
  setTimeout(() => process.exit(process.exitCode ?? 0), 500);
}, 800);
