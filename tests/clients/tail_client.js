// Opens the Loki tail websocket at the URL in argv[2] (ws://…/loki/api/v1/tail?query=…)
// with the `ws` package, the client library Grafana's backend and logcli's peers use, and
// prints every message it receives as one line on stdout. Prints "OPEN" once connected
// and "CLOSE <code> <reason>" when the server closes.
const WebSocket = require("ws");

const socket = new WebSocket(process.argv[2]);
socket.on("open", () => console.log("OPEN"));
socket.on("message", (data) => console.log(data.toString()));
socket.on("unexpected-response", (_request, response) => {
  let body = "";
  response.on("data", (chunk) => (body += chunk));
  response.on("end", () => {
    console.log(`HTTP ${response.statusCode} ${body.trim()}`);
    process.exit(0);
  });
});
socket.on("close", (code, reason) => {
  console.log(`CLOSE ${code} ${reason}`);
  process.exit(0);
});
socket.on("error", (err) => {
  console.log(`ERROR ${err.message}`);
});
