// Runs test files in path order: the e2e files build on each other (cluster.test.ts, then day2.test.ts).
const Sequencer = require("@jest/test-sequencer").default;

class PathOrder extends Sequencer {
  sort(tests) {
    return [...tests].sort((a, b) => a.path.localeCompare(b.path));
  }
}

module.exports = PathOrder;
