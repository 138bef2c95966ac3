/* The volunteer console, built on the JSON API under /console/api/ (session cookie + X-CSRF-Token). */
(function () {
  "use strict";
  var API = TTHC.API, $ = TTHC.$, el = TTHC.el;
  var csrf = "";
  var me = null;
  var queueItems = [];
  var openId = null;
  var version = -1;
  var events = null;
  var procedure = null;

  function show(node, visible) { node.hidden = !visible; }
  function fail(target, message) { target.textContent = message; show(target, !!message); }

  function call(method, path, body) {
    var headers = {};
    if (method !== "GET") { headers["Content-Type"] = "application/json"; headers["X-CSRF-Token"] = csrf; }
    var init = { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body) };
    return TTHC.request(path, init).catch(function (error) {
      if (error.status === 401 && path !== "login") { loggedOut(); }
      throw error;
    });
  }

  // ---- login ------------------------------------------------------------------------------
  function loggedIn(data) {
    me = data.volunteer; csrf = data.csrf_token;
    $("who-name").textContent = me.name + (me.role === "coordinator" ? " (điều phối viên)" : "");
    show($("who"), true); show($("login-view"), false); show($("app-view"), true);
    show($("tab-audit"), me.role === "coordinator");
    show($("analytics-link"), me.role === "coordinator");
    listen(); loadGuides();
  }
  function loggedOut() {
    me = null; csrf = "";
    if (events) { events.close(); events = null; }
    show($("who"), false); show($("app-view"), false); show($("login-view"), true);
  }
  $("login-form").addEventListener("submit", function (event) {
    event.preventDefault();
    fail($("login-error"), "");
    call("POST", "login", { username: $("username").value, password: $("password").value })
      .then(function (data) { $("password").value = ""; loggedIn(data); })
      .catch(function (error) { fail($("login-error"), error.message); });
  });
  $("logout").addEventListener("click", function () { call("POST", "logout", {}).then(loggedOut, loggedOut); });

  // ---- tabs -------------------------------------------------------------------------------
  ["queue", "desk", "audit"].forEach(function (name) {
    $("tab-" + name).addEventListener("click", function () {
      ["queue", "desk", "audit"].forEach(function (other) {
        $("tab-" + other).setAttribute("aria-selected", other === name ? "true" : "false");
        show($(other + "-panel"), other === name);
      });
      if (name === "audit") loadAudit();
    });
  });

  // ---- the live queue ---------------------------------------------------------------------
  function waited(since) {
    var minutes = Math.max(0, Math.floor((Date.now() - Date.parse(since)) / 60000));
    if (minutes < 1) return "vừa xong";
    if (minutes < 60) return minutes + " phút";
    return Math.floor(minutes / 60) + " giờ " + (minutes % 60) + " phút";
  }
  function chip(text, kind) { return el("span", { className: "chip " + (kind || "") }, text); }

  function renderQueue() {
    var list = $("queue");
    list.textContent = "";
    $("queue-count").textContent = String(queueItems.length);
    show($("queue-empty"), queueItems.length === 0);
    queueItems.forEach(function (item) {
      var button = el("button", { type: "button", "data-conversation": item.conversation_id });
      if (item.conversation_id === openId) button.setAttribute("aria-current", "true");
      var line = el("span", { className: "line" });
      line.appendChild(chip(item.channel === "zalo" ? "Zalo" : "Web", item.channel));
      line.appendChild(el("span", { className: "wait", "data-since": item.waiting_since }, "chờ " + waited(item.waiting_since)));
      line.appendChild(chip(item.topic ? "Thủ tục " + item.topic : "Chưa rõ thủ tục"));
      if (item.holder) line.appendChild(chip("Đang giữ: " + item.holder.name, "held"));
      if (item.past_reply_window) line.appendChild(chip("Quá hạn trả lời Zalo", "late"));
      if (!item.in_hours) line.appendChild(chip("Gửi ngoài giờ"));
      button.appendChild(line);
      (item.last_messages || []).slice(-2).forEach(function (message) {
        var who = message.role === "citizen" ? "Người dân: " : (message.author || "Trợ lý") + ": ";
        button.appendChild(el("p", { className: "last" }, who + message.text));
      });
      button.addEventListener("click", function () { openConversation(item.conversation_id); });
      var row = el("li");
      row.appendChild(button);
      list.appendChild(row);
    });
    fillSendTo();
  }
  setInterval(function () {
    Array.prototype.forEach.call(document.querySelectorAll(".wait[data-since]"), function (node) {
      node.textContent = "chờ " + waited(node.getAttribute("data-since"));
    });
  }, 15000);

  function listen() {
    if (events) events.close();
    events = new EventSource(API + "events");
    events.addEventListener("queue", function (event) {
      var data = JSON.parse(event.data);
      queueItems = data.queue;
      renderQueue();
      if (openId && data.version !== version) { version = data.version; loadConversation(); }
    });
    events.onopen = function () { $("live").className = "live"; $("live").textContent = "● trực tiếp"; };
    events.onerror = function () { $("live").className = "live off"; $("live").textContent = "● mất kết nối, đang thử lại"; };
  }

  // ---- a conversation ---------------------------------------------------------------------
  function openConversation(id) {
    openId = id;
    fail($("conv-error"), "");
    renderQueue();
    show($("conversation"), true);
    loadConversation();
  }
  function loadConversation() {
    if (!openId) return;
    var id = openId;
    call("GET", "conversations/" + encodeURIComponent(id)).then(function (data) {
      if (id === openId) renderConversation(data);
    }).catch(function (error) { fail($("conv-error"), error.message); });
  }
  function renderConversation(data) {
    var mine = data.holder && data.holder.username === me.username;
    var heldByOther = data.status === "assigned" && !mine;
    var canAct = mine || (heldByOther && me.role === "coordinator");
    $("conv-title").textContent = "Cuộc trò chuyện " + (data.channel === "zalo" ? "Zalo" : "trên web");
    var meta = [data.topic ? "Thủ tục " + data.topic : "Chưa rõ thủ tục", "chờ từ " + new Date(data.waiting_since).toLocaleString("vi-VN")];
    meta.push(data.status === "assigned" ? "đang giữ: " + data.holder.name : (data.status === "waiting" ? "đang chờ" : "đã xong"));
    if (data.paused) meta.push("trợ lý đang tạm dừng");
    $("conv-meta").textContent = meta.join(" · ");
    if (data.past_reply_window) fail($("conv-window"), "Đã quá thời hạn Zalo cho phép trả lời kể từ tin nhắn cuối của người dân: chờ người dân nhắn lại.");
    else show($("conv-window"), false);
    var list = $("history");
    list.textContent = "";
    data.history.forEach(function (turn) {
      var item = el("li", { className: turn.role });
      var who = turn.role === "citizen" ? "Người dân" : (turn.role === "volunteer" ? "TNV " + turn.author : "Trợ lý");
      item.appendChild(el("span", { className: "who" }, who));
      item.appendChild(document.createTextNode(turn.text));
      list.appendChild(item);
    });
    list.scrollTop = list.scrollHeight;
    var open = data.status === "waiting" || data.status === "assigned";
    show($("take"), open && data.status === "waiting");
    show($("take-over"), open && heldByOther);
    $("send-checklist").disabled = !(canAct && data.status === "assigned" && (data.topic || data.current_procedure));
    $("release").disabled = !(canAct && data.status === "assigned");
    $("close").disabled = !(open && (canAct || data.status === "waiting"));
    $("send").disabled = $("reply").disabled = !(canAct && data.status === "assigned") || data.past_reply_window;
  }
  function act(path, body) {
    fail($("conv-error"), "");
    return call("POST", "conversations/" + encodeURIComponent(openId) + "/" + path, body)
      .then(loadConversation).catch(function (error) { fail($("conv-error"), error.message); });
  }
  $("take").addEventListener("click", function () { act("take", {}); });
  $("take-over").addEventListener("click", function () {
    if (window.confirm("Người khác đang giữ cuộc trò chuyện này. Tiếp quản?")) act("take", { take_over: true });
  });
  $("release").addEventListener("click", function () { act("release"); });
  $("close").addEventListener("click", function () { act("close"); });
  $("send-checklist").addEventListener("click", function () { act("checklist", {}); });
  $("reply-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var text = $("reply").value.trim();
    if (!text) return;
    act("messages", { text: text }).then(function () { if (!$("conv-error").textContent) $("reply").value = ""; });
  });
  $("reply").addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); $("reply-form").requestSubmit(); }
  });

  // ---- the desk helper --------------------------------------------------------------------
  $("search-form").addEventListener("submit", function (event) {
    event.preventDefault();
    call("GET", "procedures?q=" + encodeURIComponent($("search").value.trim())).then(function (results) {
      var list = $("results");
      list.textContent = "";
      if (!results.length) list.appendChild(el("li", { className: "muted" }, "Không tìm thấy thủ tục phù hợp."));
      results.forEach(function (hit) {
        var button = el("button", { type: "button" }, hit.name + " (" + hit.code + ")");
        button.addEventListener("click", function () { openProcedure(hit.code); });
        var row = el("li"); row.appendChild(button); list.appendChild(row);
      });
    }).catch(function (error) { fail($("desk-error"), error.message); });
  });
  function openProcedure(code) {
    fail($("desk-error"), "");
    call("GET", "procedures/" + encodeURIComponent(code)).then(function (data) {
      procedure = data;
      $("proc-title").textContent = data.name + " (mã " + data.code + ")";
      $("card").textContent = data.card;
      var list = $("documents");
      list.textContent = "";
      var lastCase = null;
      data.documents.forEach(function (doc) {
        if (doc.case && doc.case !== lastCase) { lastCase = doc.case; list.appendChild(el("li", { className: "case" }, "Trường hợp " + doc.case)); }
        var box = el("input", { type: "checkbox", value: doc.id });
        box.addEventListener("change", updateMissing);
        var label = el("label");
        label.appendChild(box);
        label.appendChild(document.createTextNode(doc.line));
        var row = el("li"); row.appendChild(label); list.appendChild(row);
      });
      show($("procedure"), true);
      updateMissing();
    }).catch(function (error) { fail($("desk-error"), error.message); });
  }
  function ticked() {
    return Array.prototype.map.call(document.querySelectorAll("#documents input:checked"), function (box) { return box.value; });
  }
  function updateMissing() {
    if (!procedure) return;
    var have = {};
    ticked().forEach(function (id) { have[id] = true; });
    var missing = procedure.documents.filter(function (doc) { return !have[doc.id]; });
    $("missing").textContent = missing.length
      ? missing.map(function (doc) { return "• " + doc.line; }).join("\n")
      : "Đã đủ các giấy tờ trong danh sách.";
  }
  function fillSendTo() {
    var select = $("send-to");
    var current = select.value;
    select.textContent = "";
    var held = queueItems.filter(function (item) { return item.holder && item.holder.username === me.username; });
    if (!held.length) select.appendChild(el("option", { value: "" }, "(chưa nhận cuộc trò chuyện nào)"));
    held.forEach(function (item) {
      var label = (item.channel === "zalo" ? "Zalo" : "Web") + " · " + (item.last_message || item.conversation_id).slice(0, 40);
      select.appendChild(el("option", { value: item.conversation_id }, label));
    });
    if (current) select.value = current;
  }
  $("send-missing").addEventListener("click", function () {
    var target = $("send-to").value;
    if (!procedure || !target) { fail($("desk-error"), "Hãy nhận cuộc trò chuyện của người dân trước, rồi chọn ở đây."); return; }
    call("POST", "procedures/" + encodeURIComponent(procedure.code) + "/export",
      { have: ticked(), kind: "conversation", conversation_id: target })
      .then(function () { fail($("desk-error"), ""); })
      .catch(function (error) { fail($("desk-error"), error.message); });
  });
  $("print").addEventListener("click", function () {
    if (!procedure) return;
    call("POST", "procedures/" + encodeURIComponent(procedure.code) + "/export", { have: ticked(), kind: "print" })
      .then(function (data) {
        var sheet = $("print-sheet");
        sheet.textContent = "";
        sheet.appendChild(el("h1", {}, "Danh sách giấy tờ cần chuẩn bị"));
        sheet.appendChild(el("pre", { className: "sheet-text" }, data.text));
        sheet.appendChild(el("p", { className: "foot" }, "In lúc " + new Date().toLocaleString("vi-VN") + " · Trợ lý Thủ tục · Đoàn Thanh niên"));
        window.print();
      }).catch(function (error) { fail($("desk-error"), error.message); });
  });
  function loadGuides() {
    call("GET", "guides").then(function (guides) {
      var box = $("guides");
      box.textContent = "";
      guides.forEach(function (guide) {
        var part = el("details", { className: "guide" });
        part.appendChild(el("summary", {}, guide.name + (guide.code ? " (" + guide.code + ")" : "")));
        if (guide.note) part.appendChild(el("p", { className: "muted" }, guide.note));
        if (guide.steps.length) {
          var steps = el("ol");
          guide.steps.forEach(function (step) { steps.appendChild(el("li", {}, step)); });
          part.appendChild(steps);
        }
        guide.conditions.forEach(function (text) { part.appendChild(el("p", {}, "Lưu ý: " + text)); });
        if (guide.code) {
          var open = el("button", { type: "button" }, "Mở danh sách giấy tờ");
          open.addEventListener("click", function () { openProcedure(guide.code); });
          part.appendChild(open);
        }
        if (guide.source) part.appendChild(el("p", { className: "muted" }, guide.source));
        box.appendChild(part);
      });
    }).catch(function () { /* guides are optional */ });
  }

  // ---- audit log (coordinators) -----------------------------------------------------------
  function loadAudit() {
    call("GET", "audit").then(function (rows) {
      var body = document.querySelector("#audit tbody");
      body.textContent = "";
      rows.forEach(function (row) {
        var tr = el("tr");
        [new Date(row.at).toLocaleString("vi-VN"), row.actor, row.action, row.conversation_id || ""].forEach(function (text) {
          tr.appendChild(el("td", {}, text));
        });
        body.appendChild(tr);
      });
    }).catch(function () { /* not a coordinator */ });
  }

  call("GET", "me").then(loggedIn, loggedOut);
})();
