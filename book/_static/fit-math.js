// Display equations wider than the text column (on a phone) are scaled down to fit it instead of
// being cut off: MathJax 3 does not break lines. Runs once MathJax has typeset the page, and again
// when the window is resized.
(function () {
  function fit() {
    document.querySelectorAll('mjx-container[display="true"]').forEach(function (eq) {
      eq.style.fontSize = '';
      var box = eq.closest('div.math') || eq;  // an amsmath block's box can be the wider one
      var over = Math.max(eq.scrollWidth / Math.max(eq.clientWidth, 1),
                          box.scrollWidth / Math.max(box.clientWidth, 1));
      if (over > 1.001) {
        eq.style.fontSize = (parseFloat(getComputedStyle(eq).fontSize) / over * 0.98) + 'px';
      }
    });
  }
  function whenTypeset() {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      MathJax.startup.promise.then(fit);
    } else {
      setTimeout(whenTypeset, 50);
    }
  }
  window.addEventListener('load', whenTypeset);
  window.addEventListener('resize', fit);
})();
