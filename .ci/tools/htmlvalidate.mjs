// html-validate's configuration for TestPagesValidHTML (internal/web):
// the recommended rules, but for those judged not to apply, each with
// the reason.
export default {
  extends: ["html-validate:recommended"],
  rules: {
    // A style, not a fault: HTML reads the doctype in any case, and
    // <!doctype html> is how the HTML standard's own examples write it.
    "doctype-style": "off",
  },
};
