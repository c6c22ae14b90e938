// Prints the suite's closing line, "N passed, N failed", from the JSON reports jest wrote to a folder.
const fs = require("fs");
const dir = process.argv[2];
let passed = 0;
let failed = 0;
for (const file of fs.readdirSync(dir)) {
    const report = JSON.parse(fs.readFileSync(`${dir}/${file}`, "utf8"));
    passed += report.numPassedTests;
    failed += report.numFailedTests;
}
console.log(`${passed} passed, ${failed} failed`);
