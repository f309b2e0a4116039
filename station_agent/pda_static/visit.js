// Follow a visit's benches live: the server sends each state as it happens (server-sent events);
// when the benches are done the page reloads to show the visual checks.
(function () {
  var box = document.getElementById("live");
  // Only while the vehicle is on the benches: a settled page has nothing to follow.
  if (!box || !box.dataset.events || !window.EventSource) { return; }
  var list = document.getElementById("steps");
  var state = document.getElementById("state");
  var seen = list.children.length;
  var count = 0;
  var source = new EventSource(box.dataset.events);
  source.onmessage = function (event) {
    var change = JSON.parse(event.data);
    count += 1;
    state.textContent = change.state + (change.error ? ": " + change.error : "");
    if (count > seen) {
      var li = document.createElement("li");
      li.textContent = change.state + " · " + change.at.substring(11, 19);
      list.appendChild(li);
    }
    if (change.state === "visual" || change.state === "complete" || change.state === "aborted") {
      source.close();
      window.location.reload();
    }
  };
  source.onerror = function () { source.close(); setTimeout(function () { window.location.reload(); }, 2000); };
})();
