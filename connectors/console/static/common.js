/* What the console's pages share (console.js, analytics.js): each page loads this script first.
   TTHC.$ and TTHC.el build the page; TTHC.request calls the JSON API under /console/api/ with the
   session cookie and gives its data, or an Error with the server's detail and the HTTP status. */
var TTHC = (function () {
  "use strict";
  var API = "/console/api/";

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "className") node.className = attrs[key]; else node.setAttribute(key, attrs[key]);
    });
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function request(path, options) {
    var init = Object.assign({ credentials: "same-origin" }, options || {});
    init.headers = Object.assign({ "Accept": "application/json" }, init.headers || {});
    return fetch(API + path, init).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        if (!response.ok) {
          var error = new Error((data && data.detail) || ("Lỗi " + response.status));
          error.status = response.status;
          throw error;
        }
        return data;
      });
    });
  }

  return { API: API, $: $, el: el, request: request };
})();
