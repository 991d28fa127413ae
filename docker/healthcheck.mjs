// Docker HEALTHCHECK of the sidecar image: GET /health on the sidecar's own port, exit 0 when it answers 2xx.
// The slim base image has no curl or wget; Node is there. With HTTPS on the listener (CM_TLS_CERT_FILE), the
// certificate is verified as always: against CM_HEALTHCHECK_CA_FILE (default: the system roots) and the name
// CM_HEALTHCHECK_HOST (default `localhost`), which the listener's certificate must carry.
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';

const port = Number(process.env.CM_HTTP_PORT || 8080);
const tls = Boolean(process.env.CM_TLS_CERT_FILE);
const host = process.env.CM_HEALTHCHECK_HOST || 'localhost';
const caFile = process.env.CM_HEALTHCHECK_CA_FILE;
const options = {
  host: '127.0.0.1',
  port,
  path: '/health',
  timeout: 4000,
  ...(tls ? { servername: host, ...(caFile ? { ca: readFileSync(caFile) } : {}) } : {}),
};
const req = (tls ? https : http).get(options, (res) => {
  res.resume();
  process.exit(res.statusCode >= 200 && res.statusCode < 300 ? 0 : 1);
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', () => process.exit(1));
