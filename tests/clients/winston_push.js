// Pushes lines through winston-loki (protobuf + snappy by default) to the Loki URL in
// argv[2]: one line per argv[3..], labels {app="winston"}; exits when all are sent.
const winston = require("winston");
const LokiTransport = require("winston-loki");

const [host, ...lines] = process.argv.slice(2);
const transport = new LokiTransport({
  host,
  labels: { app: "winston" },
  json: false,
  batching: true,
  interval: 0.2,
  replaceTimestamp: false,
  onConnectionError: (err) => {
    console.error("connection error", err);
    process.exitCode = 1;
  },
});
const logger = winston.createLogger({
  format: winston.format.printf((info) => info.message),
  transports: [transport],
});
for (const line of lines) {
  logger.info(line);
}
setTimeout(async () => {
  await transport.flush();
  transport.close?.();
  process.exit(process.exitCode ?? 0);
}, 800);
