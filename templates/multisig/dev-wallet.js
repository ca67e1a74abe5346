// USDKG development wallet: only served with DEBUG on against a local anvil chain (id 31337).
// A minimal EIP-1193 provider, installed only when the browser has no wallet of its own: MetaMask,
// when present, is always the one used. It also announces itself by name (EIP-6963). The server signs with anvil's PUBLIC test keys, for the
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

  const provider = {
    isUsdkgDevWallet: true,
    request: request,
    on: function () { return this; },
    removeListener: function () { return this; },
  };
  window.ethereum = provider;
  window.dispatchEvent(new Event("ethereum#initialized"));

  // EIP-6963: announce by name, now and whenever a page asks, so the page lists it with any other wallet.
  const info = Object.freeze({
    uuid: "6f1e2a4c-1d7b-4c57-9a55-0d3d5e8a6b01",
    name: "USDKG development wallet (anvil test keys)",
    rdns: "org.usdkg.devwallet",
    icon: "data:image/svg+xml;base64," + btoa('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">' +
      '<circle cx="16" cy="16" r="15" fill="#c9a227"/><text x="16" y="21" font-size="14" text-anchor="middle" ' +
      'font-family="sans-serif" fill="#000">D</text></svg>'),
  });
  function announce() {
    window.dispatchEvent(new CustomEvent("eip6963:announceProvider", {detail: Object.freeze({info: info, provider: provider})}));
  }
  window.addEventListener("eip6963:requestProvider", announce);
  announce();
})();
