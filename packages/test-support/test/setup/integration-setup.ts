// Integration tests talk to a real node (index setup, refreshes, child processes): give them time.
// `testTimeout` is a global Jest option, not a per-project one, so the integration project sets it here.
jest.setTimeout(120_000);
