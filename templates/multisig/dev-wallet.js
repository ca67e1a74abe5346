// USDKG development wallet: only served with DEBUG on against a local anvil chain (id 31337).
// A minimal EIP-1193 provider, installed only when the browser has no wallet of its own: MetaMask,
// when present, is always the one used. The server signs with anvil's PUBLIC test keys, for the
// signed-in user's own signing address only.
(function () {
  "use strict";
  if (window.ethereum) { return; }
  const RPC_URL = "{% url 'multisig:dev-wallet-rpc' %}";
  let nextId = 1;

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) { return meta.getAttribute("content"); }
    const cookie = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
    return cookie ? decodeURIComponent(cookie.slice("csrftoken=".length)) : "";
  }

  function providerError(code, message) {
    const error = new Error(message);
    error.code = code;
    return error;
  }

  async function request(args) {
    if (!args || typeof args.method !== "string") { throw providerError(-32600, "invalid request"); }
    const response = await fetch(RPC_URL, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken()},
      body: JSON.stringify({jsonrpc: "2.0", id: nextId++, method: args.method, params: args.params || []}),
    });
    let body;
    try { body = await response.json(); } catch (e) {
      throw providerError(-32603, "the development wallet answered HTTP " + response.status);
    }
    if (body.error) { throw providerError(body.error.code, "Development wallet: " + body.error.message); }
    return body.result;
  }

  window.ethereum = {
    isUsdkgDevWallet: true,
    request: request,
    on: function () { return this; },
    removeListener: function () { return this; },
  };
  window.dispatchEvent(new Event("ethereum#initialized"));
})();
