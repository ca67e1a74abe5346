#!/usr/bin/env node
// Builds the committed contract artifacts in backoffice/chain/artifacts/.
//
//   node backoffice/chain/contracts/compile.js           write the artifacts
//   node backoffice/chain/contracts/compile.js --check   write nothing; exit 1 if any committed
//                                                        artifact differs from what would be written
//
// USDKG.json and USDKGMultisig.json are compiled from the sources beside this file with the pinned
// solc-js; the Safe v1.4.1 artifacts are copied from the published npm package, bytecode untouched,
// so that what we deploy is exactly the audited Safe code. Run from the repository root (paths are
// resolved from this file anyway).
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

const ROOT = path.resolve(__dirname, "..", "..", "..");
const CONTRACTS_DIR = __dirname;
const ARTIFACTS_DIR = path.resolve(__dirname, "..", "artifacts");

const SOLC_VERSION = "0.8.37";
const EVM_VERSION = "cancun";
const OPTIMIZER = { enabled: true, runs: 200 };

// Contract name -> its source file beside this script; one artifact each, named after the contract.
const SOLIDITY_CONTRACTS = [
  ["USDKG", "USDKG.sol"],
  ["USDKGMultisig", "USDKGMultisig.sol"],
  ["DevXauUsdAggregator", "DevXauUsdAggregator.sol"],
];

const SAFE_PACKAGE = "@safe-global/safe-contracts";
const SAFE_VERSION = "1.4.1";
// Artifact name -> path inside the npm package.
const SAFE_ARTIFACTS = [
  ["SafeL2", "build/artifacts/contracts/SafeL2.sol/SafeL2.json"],
  ["SafeProxyFactory", "build/artifacts/contracts/proxies/SafeProxyFactory.sol/SafeProxyFactory.json"],
  [
    "CompatibilityFallbackHandler",
    "build/artifacts/contracts/handler/CompatibilityFallbackHandler.sol/CompatibilityFallbackHandler.json",
  ],
];

class BuildError extends Error {}

function loadSolc() {
  let solc;
  try {
    solc = require(require.resolve("solc", { paths: [ROOT] }));
  } catch (err) {
    throw new BuildError(`solc is not installed (run \`npm ci\` in ${ROOT}): ${err.message}`);
  }
  // The version is pinned so that artifacts are reproducible: another compiler means other bytecode.
  if (!solc.version().startsWith(`${SOLC_VERSION}+`)) {
    throw new BuildError(`solc ${SOLC_VERSION} is required, found ${solc.version()}`);
  }
  return solc;
}

function compileContract(solc, contractName, fileName) {
  const sourcePath = path.join(CONTRACTS_DIR, fileName);
  const source = fs.readFileSync(sourcePath, "utf8");
  // The source key is fixed (not an absolute path) because it enters the metadata hash embedded in the
  // bytecode: the artifact must not depend on where the repository is checked out.
  const input = {
    language: "Solidity",
    sources: { [fileName]: { content: source } },
    settings: {
      optimizer: OPTIMIZER,
      evmVersion: EVM_VERSION,
      outputSelection: { [fileName]: { [contractName]: ["abi", "evm.bytecode.object"] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const diagnostics = output.errors || [];
  for (const d of diagnostics) {
    if (d.severity !== "error") process.stderr.write(`${d.formattedMessage || d.message}\n`);
  }
  const errors = diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) {
    const text = errors.map((d) => d.formattedMessage || d.message).join("\n");
    throw new BuildError(`${fileName} does not compile:\n${text}`);
  }
  const contract = output.contracts && output.contracts[fileName] && output.contracts[fileName][contractName];
  if (!contract || !contract.evm.bytecode.object) {
    throw new BuildError(`solc produced no bytecode for ${contractName}`);
  }
  return {
    contractName,
    abi: contract.abi,
    bytecode: `0x${contract.evm.bytecode.object}`,
    compiler: {
      version: solc.version(),
      evmVersion: EVM_VERSION,
      optimizer: { enabled: OPTIMIZER.enabled, runs: OPTIMIZER.runs },
    },
    sourceSha256: crypto.createHash("sha256").update(source, "utf8").digest("hex"),
  };
}

function compileContracts() {
  const solc = loadSolc();
  return SOLIDITY_CONTRACTS.map(([contractName, fileName]) => compileContract(solc, contractName, fileName));
}

function safeArtifacts() {
  let packageDir;
  try {
    packageDir = path.dirname(require.resolve(`${SAFE_PACKAGE}/package.json`, { paths: [ROOT] }));
  } catch (err) {
    throw new BuildError(`${SAFE_PACKAGE} is not installed (run \`npm ci\` in ${ROOT}): ${err.message}`);
  }
  const version = JSON.parse(fs.readFileSync(path.join(packageDir, "package.json"), "utf8")).version;
  if (version !== SAFE_VERSION) {
    throw new BuildError(`${SAFE_PACKAGE}@${SAFE_VERSION} is required, found ${version}`);
  }
  return SAFE_ARTIFACTS.map(([name, relative]) => {
    const file = path.join(packageDir, relative);
    if (!fs.existsSync(file)) throw new BuildError(`missing published artifact ${file}`);
    const published = JSON.parse(fs.readFileSync(file, "utf8"));
    if (published.contractName !== name) {
      throw new BuildError(`${file} holds ${published.contractName}, expected ${name}`);
    }
    if (typeof published.bytecode !== "string" || !/^0x[0-9a-fA-F]+$/.test(published.bytecode)) {
      throw new BuildError(`${file} has no creation bytecode`);
    }
    // The bytecode string is copied as published, never rewritten.
    return {
      contractName: published.contractName,
      abi: published.abi,
      bytecode: published.bytecode,
      source: `${SAFE_PACKAGE}@${SAFE_VERSION} ${relative}`,
    };
  });
}

function render(artifact) {
  // Key order is the insertion order above, so the text is stable from run to run.
  return `${JSON.stringify(artifact, null, 2)}\n`;
}

function main(argv) {
  const args = argv.slice(2);
  const unknown = args.filter((a) => a !== "--check");
  if (unknown.length > 0) {
    throw new BuildError(`unknown argument(s): ${unknown.join(" ")} (usage: compile.js [--check])`);
  }
  const check = args.includes("--check");

  const outputs = [...compileContracts(), ...safeArtifacts()].map((artifact) => ({
    file: path.join(ARTIFACTS_DIR, `${artifact.contractName}.json`),
    text: render(artifact),
  }));

  if (check) {
    const stale = outputs.filter(({ file, text }) => !fs.existsSync(file) || fs.readFileSync(file, "utf8") !== text);
    for (const { file } of stale) {
      const state = fs.existsSync(file) ? "differs from the source" : "is missing";
      process.stderr.write(`${path.relative(ROOT, file)} ${state}: run node backoffice/chain/contracts/compile.js\n`);
    }
    if (stale.length > 0) return 1;
    process.stdout.write(`${outputs.length} artifacts up to date\n`);
    return 0;
  }

  fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
  for (const { file, text } of outputs) {
    fs.writeFileSync(file, text);
    process.stdout.write(`wrote ${path.relative(ROOT, file)}\n`);
  }
  return 0;
}

try {
  process.exitCode = main(process.argv);
} catch (err) {
  if (!(err instanceof BuildError)) throw err;
  process.stderr.write(`compile.js: ${err.message}\n`);
  process.exitCode = 2;
}
