/* A student's class page: formulas in the teacher's question typeset by the vendored KaTeX, when the page
   opens and whenever htmx swaps in a new question or the revealed explanation. */
(function () {
  "use strict";

  const MATH = { delimiters: [{ left: "\\(", right: "\\)", display: false }], throwOnError: false };

  function typeset(root) {
    if (root && window.renderMathInElement) window.renderMathInElement(root, MATH);
  }

  function setUp() {
    const quiz = document.getElementById("class-quiz");
    typeset(quiz);
    document.body.addEventListener("htmx:afterSwap", (event) => {
      if (quiz && quiz.contains(event.detail.target)) typeset(event.detail.target);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
})();
