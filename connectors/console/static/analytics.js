/* The coordinators' analytics page: figures from /console/api/stats, each chart (Chart.js, served by the
   app) with its table beside it and the table's CSV export. */
(function () {
  "use strict";
  var API = TTHC.API, $ = TTHC.$, el = TTHC.el;
  var charts = {};
  var COLORS = { web: "#1d7a36", zalo: "#0068ff", line: "#f2a900", up: "#1d7a36", down: "#b3261e" };
  var LEVEL_COLORS = { "5": "#1d7a36", "4": "#7cb342", "3": "#9e9e9e", "2": "#f57c00", "1": "#b3261e" };
  var LEVEL_LABELS = { "5": "Rất hài lòng", "4": "Hài lòng", "3": "Bình thường", "2": "Không hài lòng", "1": "Rất không hài lòng" };
  var STATUS_LABELS = { waiting: "Đang chờ", assigned: "Đang được hỗ trợ", released: "Trả lại cho trợ lý", closed: "Đã đóng" };

  function fail(message) { $("error").textContent = message; $("error").hidden = !message; }
  function number(value) { return typeof value === "number" ? value.toLocaleString("vi-VN") : (value === null || value === undefined ? "" : String(value)); }
  function percent(rate) { return rate === null || rate === undefined ? "–" : (rate * 100).toLocaleString("vi-VN", { maximumFractionDigits: 1 }) + " %"; }
  function shortDay(day) { var p = day.split("-"); return p[2] + "/" + p[1]; }

  function get(path) { return TTHC.request(path); }

  // ---- the window: dates in Vietnam; "until" is the day after the last day shown -----------------
  // Days are counted in Vietnam whatever the browser's own time zone: the server reads them so.
  var VIETNAM_DAY = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Ho_Chi_Minh", year: "numeric", month: "2-digit", day: "2-digit" });
  function vietnamToday() { return VIETNAM_DAY.format(new Date()); }
  function addDays(day, n) { var d = new Date(day + "T00:00:00Z"); d.setUTCDate(d.getUTCDate() + n); return d.toISOString().slice(0, 10); }
  function query() {
    return "since=" + encodeURIComponent($("since").value) + "&until=" + encodeURIComponent(addDays($("until").value, 1));
  }
  function initialWindow() {
    var params = new URLSearchParams(window.location.search);
    var today = vietnamToday();
    $("until").value = params.get("until") ? addDays(params.get("until"), -1) : today;
    $("since").value = params.get("since") || addDays(today, -29);
  }

  // ---- tables ------------------------------------------------------------------------------------
  function renderTable(target, table) {
    var box = $(target);
    box.textContent = "";
    var node = el("table");
    node.appendChild(el("caption", {}, table.title));
    var head = el("tr");
    table.columns.forEach(function (column) { head.appendChild(el("th", { scope: "col" }, column)); });
    node.appendChild(el("thead")).appendChild(head);
    var body = el("tbody");
    if (!table.rows.length) {
      var empty = el("tr");
      empty.appendChild(el("td", { colspan: String(table.columns.length), className: "muted" }, "Chưa có số liệu."));
      body.appendChild(empty);
    }
    table.rows.forEach(function (row) {
      var tr = el("tr");
      row.forEach(function (cell) { tr.appendChild(el("td", typeof cell === "number" ? { className: "num" } : {}, number(cell))); });
      body.appendChild(tr);
    });
    node.appendChild(body);
    box.appendChild(node);
  }

  // ---- charts ------------------------------------------------------------------------------------
  function draw(id, config) {
    if (typeof window.Chart === "undefined") return;  // the tables stand without the library
    if (charts[id]) charts[id].destroy();
    config.options = Object.assign({ animation: false, responsive: true, maintainAspectRatio: false,
      plugins: { legend: { position: "bottom" } } }, config.options || {});
    charts[id] = new window.Chart($(id), config);
  }
  function bars(id, labels, values, label, color) {
    draw(id, { type: "bar", data: { labels: labels, datasets: [{ label: label, data: values, backgroundColor: color }] },
      options: { indexAxis: "y", scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } } });
  }

  function render(stats) {
    var days = {};
    stats.daily.forEach(function (row) {
      days[row.date] = days[row.date] || { web: 0, zalo: 0, conversations: 0 };
      days[row.date][row.channel] = row.questions;
      days[row.date].conversations += row.conversations;
    });
    var dayList = Object.keys(days).sort();
    draw("chart-daily", {
      data: { labels: dayList.map(shortDay), datasets: [
        { type: "bar", label: "Câu hỏi – Web", data: dayList.map(function (d) { return days[d].web; }), backgroundColor: COLORS.web, stack: "q" },
        { type: "bar", label: "Câu hỏi – Zalo", data: dayList.map(function (d) { return days[d].zalo; }), backgroundColor: COLORS.zalo, stack: "q" },
        { type: "line", label: "Cuộc trò chuyện", data: dayList.map(function (d) { return days[d].conversations; }), borderColor: COLORS.line, backgroundColor: COLORS.line }
      ] },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }
    });
    var top = stats.top_procedures.slice(0, 10);
    bars("chart-procedures", top.map(function (p) { return p.name ? p.code + " " + p.name.slice(0, 40) : p.code; }),
      top.map(function (p) { return p.questions; }), "Số câu hỏi", COLORS.zalo);

    var feedback = stats.feedback_detail.daily;
    draw("chart-feedback", {
      data: { labels: feedback.map(function (r) { return shortDay(r.date); }), datasets: [
        { type: "bar", label: "Hữu ích", data: feedback.map(function (r) { return r.up; }), backgroundColor: COLORS.up, yAxisID: "y" },
        { type: "bar", label: "Chưa đúng", data: feedback.map(function (r) { return r.down; }), backgroundColor: COLORS.down, yAxisID: "y" },
        { type: "line", label: "Tỉ lệ hữu ích (%)", data: feedback.map(function (r) { return r.helpful_rate === null ? null : Math.round(r.helpful_rate * 1000) / 10; }),
          borderColor: COLORS.line, backgroundColor: COLORS.line, yAxisID: "rate", spanGaps: true }
      ] },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, rate: { position: "right", min: 0, max: 100, grid: { drawOnChartArea: false } } } }
    });
    var satisfaction = stats.satisfaction_detail.daily;
    draw("chart-satisfaction", {
      type: "bar",
      data: { labels: satisfaction.map(function (r) { return shortDay(r.date); }), datasets: ["5", "4", "3", "2", "1"].map(function (level) {
        return { label: LEVEL_LABELS[level], data: satisfaction.map(function (r) { return r[level]; }), backgroundColor: LEVEL_COLORS[level] };
      }) },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }
    });
    var statuses = stats.handoff_detail.statuses;
    bars("chart-handoffs", Object.keys(statuses).map(function (s) { return STATUS_LABELS[s] || s; }),
      Object.keys(statuses).map(function (s) { return statuses[s]; }), "Số yêu cầu", COLORS.zalo);
    var places = stats.reports_by_place.slice(0, 10);
    bars("chart-reports-place", places.map(function (r) { return [r.commune, r.province].filter(Boolean).join(", ") || "Chưa rõ nơi"; }),
      places.map(function (r) { return r.reports; }), "Số phản ánh", COLORS.down);
    var procedures = stats.reports_by_procedure.slice(0, 10);
    bars("chart-reports-procedure", procedures.map(function (r) { return r.name || r.code || "Chưa rõ thủ tục"; }),
      procedures.map(function (r) { return r.reports; }), "Số phản ánh", COLORS.down);

    Object.keys(stats.tables).forEach(function (name) { if ($("table-" + name)) renderTable("table-" + name, stats.tables[name]); });
    renderSummary(stats);
    var shown = stats.window;
    var vietnam = { timeZone: "Asia/Ho_Chi_Minh", dateStyle: "short", timeStyle: "short" };
    $("window").textContent = "Giờ Việt Nam: từ " + new Date(shown.since).toLocaleString("vi-VN", vietnam) +
      " đến trước " + new Date(shown.until).toLocaleString("vi-VN", vietnam);
  }

  function renderSummary(stats) {
    var items = [
      ["Cuộc trò chuyện", number(stats.conversations)],
      ["Câu hỏi", number(stats.questions)],
      ["Chưa trả lời được", number(stats.unanswered)],
      ["Hữu ích", number(stats.feedback.up)],
      ["Chưa đúng", number(stats.feedback.down)],
      ["Tỉ lệ hữu ích", percent(stats.rates.helpful)],
      ["Tỉ lệ hài lòng (SIPAS)", percent(stats.rates.satisfaction)],
      ["Chuyển tình nguyện viên", number(stats.handoffs)],
      ["Phản ánh thêm giấy tờ", number(stats.reports)]
    ];
    var box = $("summary");
    box.textContent = "";
    items.forEach(function (item) {
      var wrap = el("div");
      wrap.appendChild(el("dt", {}, item[0]));
      wrap.appendChild(el("dd", {}, item[1]));
      box.appendChild(wrap);
    });
  }

  function load() {
    fail("");
    $("status").textContent = "Đang tải…";
    var q = query();
    Array.prototype.forEach.call(document.querySelectorAll("a[data-csv]"), function (link) {
      link.href = API + "stats/" + link.getAttribute("data-csv") + ".csv?" + q;
      link.setAttribute("download", "");
    });
    $("yaml").href = API + "unanswered.yaml?" + q;
    $("yaml").setAttribute("download", "");
    return Promise.all([get("stats?" + q), get("unanswered?" + q)]).then(function (found) {
      render(found[0]);
      renderTable("table-unanswered", found[1].table);
      $("status").textContent = typeof window.Chart === "undefined"
        ? "Thiếu thư viện biểu đồ (chạy make web-deps); các bảng vẫn đầy đủ." : "Đã cập nhật.";
    }).catch(function (error) { $("status").textContent = ""; fail(error.message); });
  }

  $("filters").addEventListener("submit", function (event) { event.preventDefault(); load(); });

  get("me").then(function (me) {
    if (me.volunteer.role !== "coordinator") {
      $("status").textContent = "";
      fail("Chỉ điều phối viên xem được thống kê.");
      return;
    }
    $("view").hidden = false;
    initialWindow();
    load();
  }).catch(function (error) {
    $("status").textContent = "";
    if (error.status === 401) {
      var message = $("error");
      message.hidden = false;
      message.textContent = "Cần đăng nhập. ";
      message.appendChild(el("a", { href: "/console" }, "Đăng nhập ở bảng điều khiển"));
    } else {
      fail(error.message);
    }
  });
})();
