/** @type {import('jest').Config} */
const project = (name) => ({
  displayName: name,
  testEnvironment: "node",
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json" }] },
  testMatch: [`<rootDir>/test/${name}/**/*.test.ts`],
});
module.exports = {
  testSequencer: "<rootDir>/test/sequencer.js",
  // npm test boots the lab's VMs beside the unit and engine stages: on two busy cores a unit test
  // that spawns bash may take several seconds, which is not a failure (the e2e and engine suites
  // set their own, longer timeouts).
  testTimeout: 60_000,
  // unit: under Pulumi mocks, seconds. engine: the real CLI and plugins. e2e: the VM lab.
  projects: [project("unit"), project("engine"), project("e2e")],
};
