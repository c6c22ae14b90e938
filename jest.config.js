/** @type {import('jest').Config} */
const project = (name) => ({
  displayName: name,
  testEnvironment: "node",
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json" }] },
  testMatch: [`<rootDir>/test/${name}/**/*.test.ts`],
});
module.exports = {
  testSequencer: "<rootDir>/test/sequencer.js",
  // unit: under Pulumi mocks, seconds. engine: the real CLI and plugins. e2e: the VM lab.
  projects: [project("unit"), project("engine"), project("e2e")],
};
