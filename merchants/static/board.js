// Kuaisu board: ask for new cases now and then, show a notice and the new cards.
// Progressive enhancement only: without JavaScript the board and its reload link work.
(function () {
  "use strict";
  var board = document.getElementById("board");
  var notice = document.getElementById("board-notice");
  if (!board || !notice || !window.fetch) { return; }
  var since = board.getAttribute("data-since") || "0";
  var every = Math.max(1, parseInt(board.getAttribute("data-poll"), 10) || 20) * 1000;
  var base = board.getAttribute("data-updates");
  var arrived = 0;

  function insert(card) {
    var column = board.querySelector('[data-colour="' + card.colour + '"] .cardlist');
    if (!column || board.querySelector('[data-id="' + card.id + '"]')) { return; }
    var holder = document.createElement("ol");
    holder.innerHTML = card.html;
    var item = holder.firstElementChild;
    if (!item) { return; }
    item.classList.add("fresh");
    column.insertBefore(item, column.firstChild);
    var empty = column.parentNode.querySelector(".empty");
    if (empty) { empty.hidden = true; }
  }

  function poll() {
    var url = base + (base.indexOf("?") < 0 ? "?" : "&") + "since=" + encodeURIComponent(since);
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data || !data.count) { return; }
        since = String(data.latest);
        data.cards.slice().reverse().forEach(insert);
        arrived += data.count;
        notice.querySelector("[data-count]").textContent = String(arrived);
        notice.hidden = false;
      })
      .catch(function () { /* offline or signed out: try again later */ })
      .then(function () { window.setTimeout(poll, every); });
  }
  window.setTimeout(poll, every);
}());
