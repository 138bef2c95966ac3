/*
 * Trợ lý Thủ tục: the help widget for provincial portals.
 *
 * Embed with one tag:  <script src="https://HOST/widget.js" defer></script>
 * Options (data attributes on that tag):
 *   data-api    origin of the assistant API (default: where this script was loaded from)
 *   data-title  panel title (default "Trợ lý Thủ tục")
 *   data-open   "true" to open the panel at load
 * Self-contained: no external fonts, styles or scripts; styles live in a shadow root.
 */
(function () {
  "use strict";
  if (window.__tthcWidgetLoaded) return;
  window.__tthcWidgetLoaded = true;

  var script = document.currentScript || (function () {
    var tags = document.querySelectorAll("script[src]");
    for (var i = tags.length - 1; i >= 0; i--) {
      if (/\/widget\.js(\?|$)/.test(tags[i].src)) return tags[i];
    }
    return null;
  })();
  var dataset = (script && script.dataset) || {};
  var scriptOrigin = script && script.src ? new URL(script.src, location.href).origin : location.origin;
  var apiBase = (dataset.api || scriptOrigin).replace(/\/+$/, "");
  var title = dataset.title || "Trợ lý Thủ tục";
  var storageKey = "tthc-chat:" + apiBase;
  var openKey = storageKey + ":open";
  var MAX_HISTORY = 200;
  var MAX_CHARS = 2000;
  var REQUEST_TIMEOUT_MS = 30000;
  var EXAMPLES = [
    "Đăng ký tạm trú cần giấy tờ gì?",
    "Làm giấy khai sinh cho con",
    "Cấp đổi giấy phép lái xe"
  ];

  // ---- state kept in localStorage ----------------------------------------------------------
  function newSenderId() {
    if (window.crypto && crypto.randomUUID) return "web-" + crypto.randomUUID();
    var bytes = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return "web-" + Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function loadState() {
    try {
      var saved = JSON.parse(localStorage.getItem(storageKey) || "null");
      if (saved && typeof saved.senderId === "string" && Array.isArray(saved.history)) return saved;
    } catch (e) { /* storage unavailable or corrupt: start afresh */ }
    return { senderId: newSenderId(), history: [] };
  }

  var state = loadState();

  function saveState() {
    state.history = state.history.slice(-MAX_HISTORY);
    try { localStorage.setItem(storageKey, JSON.stringify(state)); } catch (e) { /* full or blocked */ }
  }

  function rememberOpen(open) {
    try { sessionStorage.setItem(openKey, open ? "1" : "0"); } catch (e) { /* ignore */ }
  }

  function wasOpen() {
    try { return sessionStorage.getItem(openKey) === "1"; } catch (e) { return false; }
  }

  // ---- DOM ---------------------------------------------------------------------------------
  var CSS = [
    ":host{all:initial}",
    "*{box-sizing:border-box}",
    ".root{font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#1b1f24}",
    ".launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;display:flex;align-items:center;gap:8px;",
    "padding:12px 18px;border:0;border-radius:28px;background:#0b4f8a;color:#fff;font-weight:600;font-size:15px;line-height:1.2;",
    "font-family:inherit;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25)}",
    ".launcher:hover{background:#083d6b}",
    ".launcher svg{width:22px;height:22px;fill:currentColor}",
    "button:focus-visible,textarea:focus-visible,a:focus-visible,.log:focus-visible{outline:3px solid #f2a900;outline-offset:2px}",
    ".panel{position:fixed;right:20px;bottom:84px;z-index:2147483001;width:380px;max-width:calc(100vw - 24px);",
    "height:600px;max-height:calc(100vh - 104px);display:flex;flex-direction:column;background:#fff;",
    "border-radius:14px;box-shadow:0 10px 34px rgba(0,0,0,.3);overflow:hidden;overflow:clip}",
    ".panel[hidden]{display:none}",
    ".header{display:flex;align-items:center;gap:8px;padding:12px 14px;background:#0b4f8a;color:#fff}",
    ".header h2{margin:0;font-size:16px;font-weight:700;flex:1}",
    ".header p{margin:0;font-size:12.5px;opacity:.92}",
    ".icon-button{border:0;background:transparent;color:#fff;cursor:pointer;border-radius:6px;padding:6px 8px;",
    "font-weight:600;font-size:13px;line-height:1;font-family:inherit}",
    ".icon-button:hover{background:rgba(255,255,255,.16)}",
    ".log{flex:1;overflow-y:auto;padding:14px;background:#f4f6f9;display:flex;flex-direction:column;gap:10px}",
    ".msg{max-width:88%;padding:9px 12px;border-radius:12px;word-wrap:break-word;overflow-wrap:anywhere}",
    ".msg p{margin:0 0 6px}.msg p:last-child{margin-bottom:0}",
    ".msg ul,.msg ol{margin:2px 0 6px;padding-left:20px}.msg li{margin:2px 0}",
    ".bot{align-self:flex-start;background:#fff;border:1px solid #d5dce4;border-bottom-left-radius:4px}",
    ".user{align-self:flex-end;background:#0b4f8a;color:#fff;border-bottom-right-radius:4px}",
    ".user a{color:#fff}",
    ".volunteer{border-color:#1d7a36;background:#f1f9f3}",
    ".author{display:block;font-size:12px;font-weight:700;color:#1d5a2c;margin-bottom:2px}",
    ".agent{margin:0;padding:5px 14px;font-size:13px;background:#e8f0f8;color:#0b3a66;border-bottom:1px solid #d5dce4}",
    ".agent.human{background:#e2f3e6;color:#1d5a2c;font-weight:600}",
    ".bot a{color:#0a58a8}",
    ".error{align-self:stretch;background:#fdecea;color:#7a1c14;border:1px solid #f2b8b0}",
    ".sr-only{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);border:0}",
    ".buttons{display:flex;flex-wrap:wrap;gap:6px;margin-top:8px}",
    ".choice{border:1.5px solid #0b4f8a;background:#fff;color:#0b4f8a;border-radius:16px;padding:6px 12px;",
    "font-weight:600;font-size:13.5px;line-height:1.3;font-family:inherit;cursor:pointer;text-align:left}",
    ".choice:hover{background:#e8f0f8}",
    ".typing{align-self:flex-start;display:flex;gap:4px;align-items:center;padding:10px 12px;background:#fff;",
    "border:1px solid #d5dce4;border-radius:12px}",
    ".typing[hidden]{display:none}",
    ".dot{width:7px;height:7px;border-radius:50%;background:#5b6775;animation:blink 1.2s infinite}",
    ".dot:nth-child(2){animation-delay:.2s}.dot:nth-child(3){animation-delay:.4s}",
    "@keyframes blink{0%,80%,100%{opacity:.25}40%{opacity:1}}",
    "@media (prefers-reduced-motion:reduce){.dot{animation:none}}",
    ".form{display:flex;gap:8px;padding:10px;border-top:1px solid #d5dce4;background:#fff}",
    ".form textarea{flex:1;resize:none;border:1.5px solid #8a96a3;border-radius:10px;padding:8px 10px;",
    "font-size:15px;line-height:1.4;font-family:inherit;color:#1b1f24;max-height:120px}",
    ".send{border:0;border-radius:10px;background:#0b4f8a;color:#fff;padding:0 16px;font-weight:600;font-size:15px;line-height:1;",
    "font-family:inherit;cursor:pointer}",
    ".send:disabled{background:#6b7785;cursor:not-allowed}",
    ".note{margin:0;padding:0 12px 8px;font-size:12px;color:#4a5561;background:#fff}",
    "@media (max-width:480px){.panel{right:0;bottom:0;width:100vw;max-width:100vw;height:100%;max-height:100%;",
    "border-radius:0}.launcher{right:12px;bottom:12px}}"
  ].join("");

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        if (key === "text") node.textContent = attrs[key];
        else if (key === "className") node.className = attrs[key];
        else node.setAttribute(key, attrs[key]);
      });
    }
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  var host = el("div", { id: "tthc-chat-widget" });
  var shadow = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  var style = document.createElement("style");
  style.textContent = CSS;

  var launcher = el("button", {
    type: "button", className: "launcher", "aria-expanded": "false", "aria-controls": "tthc-panel",
    "aria-label": "Mở trợ lý hỏi đáp thủ tục hành chính"
  });
  launcher.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6v2h2V9H7zm4 0v2h2V9h-2zm4 0v2h2V9h-2z"/></svg>';
  launcher.appendChild(el("span", { text: "Hỏi thủ tục" }));

  var heading = el("h2", { id: "tthc-title", text: title });
  var closeButton = el("button", { type: "button", className: "icon-button", "aria-label": "Đóng cửa sổ trợ lý", text: "✕" });
  var resetButton = el("button", {
    type: "button", className: "icon-button", "aria-label": "Bắt đầu cuộc trò chuyện mới", title: "Cuộc trò chuyện mới", text: "Mới"
  });
  var header = el("div", { className: "header" }, [
    el("div", { style: "flex:1" }, [heading, el("p", { text: "Hỏi đáp thủ tục hành chính, có nguồn dẫn" })]),
    resetButton, closeButton
  ]);
  var agent = el("p", { className: "agent", role: "status", "aria-live": "polite", text: "Trợ lý tự động đang trả lời" });
  var log = el("div", {
    className: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions",
    "aria-label": "Nội dung trò chuyện", tabindex: "0"
  });
  var typing = el("div", { className: "typing", role: "status", "aria-label": "Trợ lý đang trả lời" }, [
    el("span", { className: "dot" }), el("span", { className: "dot" }), el("span", { className: "dot" }),
    el("span", { className: "sr-only", text: "Trợ lý đang trả lời…" })
  ]);
  typing.hidden = true;
  var input = el("textarea", {
    id: "tthc-input", rows: "2", maxlength: String(MAX_CHARS), placeholder: "Nhập câu hỏi, ví dụ: đăng ký tạm trú",
    "aria-label": "Câu hỏi của bạn", autocomplete: "off"
  });
  var sendButton = el("button", { type: "submit", className: "send", text: "Gửi" });
  var form = el("form", { className: "form", "aria-label": "Gửi câu hỏi" }, [input, sendButton]);
  var note = el("p", { className: "note", text: "Không gửi số căn cước, số điện thoại hay thông tin riêng tư." });
  var panel = el("div", {
    id: "tthc-panel", className: "panel", role: "dialog", "aria-modal": "false", "aria-labelledby": "tthc-title"
  }, [header, agent, log, form, note]);
  panel.hidden = true;

  var root = el("div", { className: "root" }, [launcher, panel]);
  shadow.appendChild(style);
  shadow.appendChild(root);

  // ---- rendering text: paragraphs, line breaks, lists, links, bold -------------------------
  var INLINE = /\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)|\*\*([^*]+)\*\*|(https?:\/\/[^\s<>()]+[^\s<>().,;:!?])/g;

  function appendInline(parent, text) {
    var last = 0, match;
    INLINE.lastIndex = 0;
    while ((match = INLINE.exec(text)) !== null) {
      if (match.index > last) parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      if (match[1]) parent.appendChild(link(match[1], match[2]));
      else if (match[3]) parent.appendChild(el("strong", { text: match[3] }));
      else parent.appendChild(link(match[4], match[4]));
      last = INLINE.lastIndex;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function link(label, href) {
    return el("a", { href: href, target: "_blank", rel: "noopener noreferrer", text: label });
  }

  function renderText(container, text) {
    var lines = String(text || "").replace(/\r\n?/g, "\n").split("\n");
    var list = null, listType = null, paragraph = null;
    lines.forEach(function (raw) {
      var line = raw.trim();
      var bullet = /^(?:[-•*+▪●]\s+)(.*)$/.exec(line);
      var numbered = /^(\d{1,2})[.)]\s+(.*)$/.exec(line);
      if (bullet || numbered) {
        var type = bullet ? "ul" : "ol";
        if (!list || listType !== type) {
          list = el(type);
          if (numbered && numbered[1] !== "1") list.setAttribute("start", numbered[1]);
          listType = type;
          container.appendChild(list);
        }
        var item = el("li");
        appendInline(item, bullet ? bullet[1] : numbered[2]);
        list.appendChild(item);
        paragraph = null;
        return;
      }
      list = null; listType = null;
      if (!line) { paragraph = null; return; }
      if (paragraph) paragraph.appendChild(el("br"));
      else { paragraph = el("p"); container.appendChild(paragraph); }
      // A short line ending with a colon introduces what follows ("Hồ sơ cần chuẩn bị:").
      if (line.length <= 80 && /:$/.test(line)) {
        var lead = el("strong");
        appendInline(lead, line);
        paragraph.appendChild(lead);
      } else {
        appendInline(paragraph, line);
      }
    });
  }

  function renderEntry(entry) {
    var kind = entry.role === "user" ? "user" : (entry.role === "volunteer" ? "bot volunteer" : "bot");
    var bubble = el("div", { className: "msg " + kind });
    if (entry.role === "volunteer") {
      bubble.appendChild(el("span", { className: "author", text: "Tình nguyện viên " + (entry.author || "") }));
      renderText(bubble, entry.text);
    } else if (entry.role === "user") {
      bubble.appendChild(el("span", { className: "sr-only", text: "Bạn: " }));
      bubble.appendChild(document.createTextNode(entry.text));
    } else {
      bubble.appendChild(el("span", { className: "sr-only", text: "Trợ lý: " }));
      renderText(bubble, entry.text);
      if (entry.buttons && entry.buttons.length) {
        var group = el("div", { className: "buttons", role: "group", "aria-label": "Lựa chọn" });
        entry.buttons.forEach(function (button) {
          var choice = el("button", { type: "button", className: "choice", text: button.title });
          choice.addEventListener("click", function () { send(button.payload, button.title); });
          group.appendChild(choice);
        });
        bubble.appendChild(group);
      }
    }
    log.insertBefore(bubble, typing);
    return bubble;
  }

  function renderWelcome() {
    renderEntry({
      role: "bot",
      text: "Xin chào! Tôi giúp bạn tìm hiểu thủ tục hành chính: cần giấy tờ gì, nộp ở đâu, lệ phí, " +
        "thời gian giải quyết, kèm nguồn chính thức.\nBạn có thể hỏi, ví dụ:",
      buttons: EXAMPLES.map(function (text) { return { title: text, payload: text }; })
    });
  }

  function renderAll() {
    while (log.firstChild) log.removeChild(log.firstChild);
    log.appendChild(typing);
    renderWelcome();
    state.history.forEach(renderEntry);
    scrollToEnd();
  }

  function scrollToEnd() { log.scrollTop = log.scrollHeight; }

  function showError(message) {
    var box = el("div", { className: "msg error", role: "alert" });
    box.textContent = message;
    log.insertBefore(box, typing);
    scrollToEnd();
  }

  // ---- volunteers: who answers, and their messages live (server-sent events) ---------------
  var stream = null;

  function showAgent(status) {
    var human = status && status.status === "assigned";
    agent.className = "agent" + (human ? " human" : "");
    if (human) agent.textContent = "Tình nguyện viên " + (status.volunteer || "") + " đang trả lời bạn";
    else if (status && status.status === "waiting") agent.textContent = "Trợ lý tự động đang trả lời · đang chờ tình nguyện viên";
    else agent.textContent = "Trợ lý tự động đang trả lời";
  }

  function listenToVolunteers() {
    if (stream || !window.EventSource) return;
    stream = new EventSource(apiBase + "/api/chat/" + encodeURIComponent(state.senderId) +
      "/stream?after=" + (state.lastPushed || 0));
    stream.addEventListener("message", function (event) {
      var item = JSON.parse(event.data);
      if (item.id <= (state.lastPushed || 0)) return;
      state.lastPushed = item.id;
      var entry = { role: item.role === "volunteer" ? "volunteer" : "bot", text: item.text, author: item.author, buttons: item.buttons || [] };
      state.history.push(entry);
      saveState();
      renderEntry(entry);
      scrollToEnd();
    });
    stream.addEventListener("status", function (event) {
      var status = JSON.parse(event.data);
      state.agent = status;
      showAgent(status);
      if (status.status !== "waiting" && status.status !== "assigned") {
        state.live = false;
        stopListening();
      }
      saveState();
    });
  }

  function stopListening() {
    if (stream) { stream.close(); stream = null; }
  }

  // ---- talking to the API ------------------------------------------------------------------
  var busy = false;

  function setBusy(value) {
    busy = value;
    typing.hidden = !value;
    sendButton.disabled = value;
    log.setAttribute("aria-busy", value ? "true" : "false");
    if (value) scrollToEnd();
  }

  function errorMessage(status, body) {
    if (body && typeof body.detail === "string") return body.detail;
    if (status === 429) return "Bạn gửi hơi nhanh, vui lòng chờ một chút rồi thử lại.";
    if (status >= 500) return "Trợ lý đang tạm thời gián đoạn. Vui lòng thử lại sau ít phút.";
    return "Không gửi được câu hỏi. Vui lòng thử lại.";
  }

  function send(message, shown) {
    message = String(message || "").trim();
    if (!message || busy) return;
    if (message.length > MAX_CHARS) {
      showError("Câu hỏi quá dài (tối đa " + MAX_CHARS + " ký tự). Bạn hãy rút gọn lại.");
      return;
    }
    var entry = { role: "user", text: shown || message };
    state.history.push(entry);
    saveState();
    var question = renderEntry(entry);
    setBusy(true);
    var controller = window.AbortController ? new AbortController() : null;
    var timer = setTimeout(function () { if (controller) controller.abort(); }, REQUEST_TIMEOUT_MS);
    fetch(apiBase + "/api/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender_id: state.senderId, text: message }),
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (body) {
        if (!response.ok) throw new Error(errorMessage(response.status, body));
        return body;
      });
    }).then(function (body) {
      var messages = (body && body.messages) || [];
      if (body && body.live) { state.live = true; listenToVolunteers(); }
      var withVolunteer = state.live && state.agent && state.agent.status === "assigned";
      if (!messages.length && !withVolunteer) {
        messages = [{ text: "Xin lỗi, tôi chưa có câu trả lời cho câu này. Bạn thử hỏi cách khác nhé.", buttons: [] }];
      }
      messages.forEach(function (reply) {
        var botEntry = { role: "bot", text: reply.text || "", buttons: reply.buttons || [] };
        state.history.push(botEntry);
        renderEntry(botEntry);
      });
      saveState();
      setBusy(false);
      // Show the question and the start of the answer: answers are often longer than the panel.
      log.scrollTop += question.getBoundingClientRect().top - log.getBoundingClientRect().top - 8;
    }).catch(function (error) {
      var offline = error && (error.name === "AbortError" || error instanceof TypeError);
      showError(offline
        ? "Không kết nối được với trợ lý. Bạn kiểm tra mạng rồi thử lại nhé."
        : (error && error.message) || "Không gửi được câu hỏi. Vui lòng thử lại.");
    }).then(function () {
      clearTimeout(timer);
      if (busy) setBusy(false);
    });
  }

  // ---- opening, closing, keyboard ----------------------------------------------------------
  function setOpen(open, focusTarget) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    launcher.setAttribute("aria-label", open ? "Đóng trợ lý hỏi đáp thủ tục hành chính" : "Mở trợ lý hỏi đáp thủ tục hành chính");
    rememberOpen(open);
    if (open) {
      scrollToEnd();
      if (focusTarget !== false) input.focus();
    } else if (focusTarget !== false) {
      launcher.focus();
    }
  }

  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  closeButton.addEventListener("click", function () { setOpen(false); });
  resetButton.addEventListener("click", function () {
    stopListening();
    state = { senderId: newSenderId(), history: [] };
    saveState();
    showAgent(null);
    renderAll();
    input.focus();
  });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { event.preventDefault(); setOpen(false); }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim()) { input.focus(); return; }
    input.value = "";
    send(text);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });

  function mount() {
    document.body.appendChild(host);
    renderAll();
    showAgent(state.live ? state.agent : null);
    if (state.live) listenToVolunteers();
    if (dataset.open === "true" || wasOpen()) setOpen(true, false);
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
