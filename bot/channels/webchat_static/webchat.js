/* 电力服务助手 web chat. No framework, no build step.
 *
 * - Talks to POST ./webhook (Rasa REST protocol) on the same origin.
 * - Who the customer is lives in an HttpOnly cookie the server signs (this script cannot read it);
 *   the transcript lives in localStorage, so a reload continues the same conversation and shows it.
 * - Every text that comes from the server is inserted with textContent / createTextNode, never
 *   innerHTML; links (http/https, the 95598 hotline) are built as elements.
 */
(function () {
  'use strict';

  var LOG_KEY = 'dlzs.webchat.log';
  var MAX_ITEMS = 200;          // transcript items kept in the browser
  var TIMEOUT_MS = 45000;       // a reply normally takes well under a second
  var WEBHOOK = 'webhook';      // relative to /webhooks/webchat/
  var HUMAN_PAYLOAD = '/request_human';

  // The topic buttons come with the page (webchat.py puts in knowledge/topics.yml); the welcome names them.
  var TOPICS = Array.prototype.map.call(document.querySelectorAll('.chip'), function (c) { return c.getAttribute('data-text'); });
  var WELCOME = '您好！我是电力服务助手，可以为您解答' + TOPICS.join('、') + '等问题。\n' +
    '请直接输入您的问题，或点击下方的分类。需要人工服务时，点击右上角“转人工”。';
  var OFFLINE_TEXT = '暂时连不上服务器，您的消息没有发出。请检查网络后点“重新发送”；' +
    '紧急情况（停电、触电、电线掉落）请立即拨打 95598 供电服务热线（24 小时）。';
  var SERVER_ERROR_TEXT = '服务器暂时没有响应，您的消息可能没有处理。请稍后点“重新发送”；' +
    '紧急情况请拨打 95598 供电服务热线（24 小时）。';
  var EMPTY_TEXT = '助手这次没有回复。您可以换个说法再问，或点击“转人工”。';

  var LIVE_CURSOR_KEY = 'dlzs.webchat.livecursor';
  var LIVE_WAIT_S = 20;         // long poll: the server answers as soon as an agent writes
  var LIVE_RETRY_MS = 3000;     // after a failed poll (server restarting, network)

  var logEl = document.getElementById('log');
  var liveStatusEl = document.getElementById('live-status');
  var form = document.getElementById('form');
  var input = document.getElementById('input');

  // --- storage (works without localStorage too, e.g. some private modes) -----------------------
  var memory = {};
  function load(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return memory[key] || null; }
  }
  function save(key, value) {
    try { window.localStorage.setItem(key, value); } catch (e) { memory[key] = value; }
  }

  var items = [];
  try {
    var stored = JSON.parse(load(LOG_KEY) || '[]');
    if (Array.isArray(stored)) { items = stored.filter(function (it) { return it && typeof it === 'object'; }); }
  } catch (e) { items = []; }

  function persist() {
    if (items.length > MAX_ITEMS) { items = items.slice(items.length - MAX_ITEMS); }
    save(LOG_KEY, JSON.stringify(items));
  }

  // --- rendering -------------------------------------------------------------------------------
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  // Text with clickable http(s) links and the 95598 hotline; everything else stays plain text.
  var LINK_RE = /(https?:\/\/[^\s<>"'（）()，。；、！？]+|95598)/g;
  function richText(parent, text) {
    text = String(text || '');
    var last = 0;
    var m;
    LINK_RE.lastIndex = 0;
    while ((m = LINK_RE.exec(text)) !== null) {
      if (m.index > last) { parent.appendChild(document.createTextNode(text.slice(last, m.index))); }
      var a = document.createElement('a');
      a.textContent = m[0];
      if (m[0] === '95598') {
        a.href = 'tel:95598';
      } else {
        a.href = m[0];
        a.target = '_blank';
        a.rel = 'noopener noreferrer';
      }
      parent.appendChild(a);
      last = m.index + m[0].length;
    }
    if (last < text.length) { parent.appendChild(document.createTextNode(text.slice(last))); }
    return parent;
  }

  function timeLabel(ms) {
    var d = new Date(ms || Date.now());
    return ('0' + d.getHours()).slice(-2) + ':' + ('0' + d.getMinutes()).slice(-2);
  }

  var ORDER_TITLES = { stored: '已为您生成工单', appended: '已补充到您的工单', spooled: '您的问题已记录' };

  function renderOrderCard(item) {
    var o = item.order;
    var card = el('div', 'order-card');
    card.setAttribute('data-testid', 'work-order');
    card.appendChild(el('div', 'order-title', ORDER_TITLES[o.status] || '已为您转人工'));
    if (o.order_no) {
      var row = el('div', 'order-no-row');
      row.appendChild(el('span', 'order-label', '工单号'));
      var no = el('strong', 'order-no', o.order_no);
      row.appendChild(no);
      var copy = el('button', 'btn-copy', '复制');
      copy.type = 'button';
      copy.addEventListener('click', function () { copyText(o.order_no, copy); });
      row.appendChild(copy);
      card.appendChild(row);
    }
    if (o.due) { card.appendChild(el('div', 'order-due', '预计答复：' + o.due + ' 前（北京时间）')); }
    if (item.text) { card.appendChild(richText(el('p', 'order-text'), item.text)); }
    if (o.order_no) { card.appendChild(el('div', 'order-hint', '请记下工单号；之后输入“我的工单”可查询处理进度。')); }
    return card;
  }

  function copyText(text, button) {
    function done() { button.textContent = '已复制'; setTimeout(function () { button.textContent = '复制'; }, 1500); }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {});
      return;
    }
    var ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.appendChild(ta);
    ta.select();
    try { document.execCommand('copy'); done(); } catch (e) { /* the number stays visible to note down */ }
    document.body.removeChild(ta);
  }

  function renderButtons(item, index) {
    var box = el('div', 'buttons');
    box.setAttribute('role', 'group');
    item.buttons.forEach(function (b) {
      var btn = el('button', 'choice', b.title);
      btn.type = 'button';
      if (item.chosen === b.title) { btn.className += ' chosen'; }
      if (item.answered) {
        btn.disabled = true;
      } else {
        btn.addEventListener('click', function () {
          if (items[index]) { items[index].chosen = b.title; }
          send(b.payload, b.title);
        });
      }
      box.appendChild(btn);
    });
    return box;
  }

  function renderItem(item, index) {
    var row = el('div', 'row ' + (item.role === 'user' ? 'from-user' : item.role === 'bot' ? 'from-bot' : 'from-system'));
    if (item.role === 'system') {
      var note = el('div', 'notice' + (item.error ? ' notice-error' : ''));
      note.setAttribute('role', item.error ? 'alert' : 'status');
      richText(note, item.text);
      if (item.retry && !item.retried) {
        var retry = el('button', 'btn-retry', '重新发送');
        retry.type = 'button';
        retry.addEventListener('click', function () {
          item.retried = true;
          persist();
          render();
          post(item.retry.message, item.retry.id);
        });
        note.appendChild(retry);
      }
      row.appendChild(note);
      return row;
    }
    var wrap = el('div', 'msg');
    if (item.agent) {
      row.className += ' from-agent';
      wrap.appendChild(el('div', 'agent-label', '人工客服 ' + item.agent));
    }
    if (item.order) {
      wrap.appendChild(renderOrderCard(item));
    } else if (item.text) {
      wrap.appendChild(richText(el('div', 'bubble'), item.text));
    }
    if (item.buttons && item.buttons.length) { wrap.appendChild(renderButtons(item, index)); }
    wrap.appendChild(el('div', 'time', timeLabel(item.at)));
    row.appendChild(wrap);
    return row;
  }

  var typing = null;
  function render() {
    while (logEl.firstChild) { logEl.removeChild(logEl.firstChild); }
    logEl.appendChild(renderItem({ role: 'bot', text: WELCOME, at: items.length ? items[0].at : Date.now() }, -1));
    items.forEach(function (item, i) { logEl.appendChild(renderItem(item, i)); });
    if (pending > 0) {
      typing = el('div', 'row from-bot typing-row');
      var t = el('div', 'bubble typing');
      t.setAttribute('aria-label', '助手正在输入');
      t.appendChild(el('span', 'dot'));
      t.appendChild(el('span', 'dot'));
      t.appendChild(el('span', 'dot'));
      typing.appendChild(t);
      logEl.appendChild(typing);
    }
    logEl.scrollTop = logEl.scrollHeight;
  }

  // --- talking to the server ---------------------------------------------------------------------
  // Rasa sends a custom payload as its own message right after the text it belongs to: fold
  // {"type": "work_order"} into that text so the number is shown as one highlighted card.
  function toItems(messages) {
    var out = [];
    var now = Date.now();
    (Array.isArray(messages) ? messages : []).forEach(function (m) {
      if (!m || typeof m !== 'object') { return; }
      var custom = m.custom && typeof m.custom === 'object' ? m.custom : null;
      var hasText = typeof m.text === 'string' && m.text !== '';
      var buttons = Array.isArray(m.buttons) ? m.buttons.filter(function (b) {
        return b && typeof b.title === 'string' && typeof b.payload === 'string';
      }).map(function (b) { return { title: b.title, payload: b.payload }; }) : [];
      if (hasText || buttons.length) {
        out.push({ role: 'bot', text: hasText ? m.text : '', buttons: buttons, at: now });
      }
      if (custom && custom.type === 'live_chat') {
        liveSeen(custom);
        return;
      }
      if (custom && custom.type === 'work_order') {
        var order = {
          status: String(custom.status || ''),
          order_no: custom.order_no ? String(custom.order_no) : null,
          due: custom.due ? String(custom.due) : null
        };
        var last = out[out.length - 1];
        if (last && !last.order) {
          last.order = order;       // the text just before it carries the number
        } else {
          out.push({ role: 'bot', text: '', buttons: [], order: order, at: now });
        }
      }
    });
    return out;
  }

  var pending = 0;
  var queue = Promise.resolve();

  function markAnswered() {
    items.forEach(function (it) { if (it.buttons && it.buttons.length) { it.answered = true; } });
  }

  function send(message, shown) {
    message = String(message);
    if (!message.trim()) { return; }
    markAnswered();
    items.push({ role: 'user', text: shown || message, at: Date.now() });
    persist();
    post(message);
  }

  // One id per message, sent again by 重新发送: a message the server had already answered (the
  // answer was lost on the way) is answered again from what it stored, never handled twice.
  function requestId() {
    var bytes = new Uint8Array(16);
    var crypto = window.crypto || window.msCrypto;
    if (crypto && crypto.getRandomValues) { crypto.getRandomValues(bytes); }
    else { for (var i = 0; i < 16; i++) { bytes[i] = Math.floor(Math.random() * 256); } }
    return Array.prototype.map.call(bytes, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
  }

  function post(message, id) {
    id = id || requestId();
    pending += 1;
    render();
    queue = queue.then(function () { return deliver(message, id); }).then(function () {
      pending -= 1;
      persist();
      render();
    });
  }

  function deliver(message, id) {
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, TIMEOUT_MS) : null;
    return fetch(WEBHOOK, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Request-ID': id },
      body: JSON.stringify({ message: message }),
      signal: controller ? controller.signal : undefined,
      credentials: 'same-origin'
    }).then(function (res) {
      if (res.status === 429) {
        // Too many messages: the server says so (with the 95598 hotline) in the usual format.
        return res.json().catch(function () { throw { server: true, status: 429 }; });
      }
      if (!res.ok) { throw { server: true, status: res.status }; }
      return res.json().catch(function () { throw { server: true }; });
    }).then(function (messages) {
      var liveBefore = liveHits;
      var got = toItems(messages);
      // Held by an agent: the message went to them; their reply arrives through the live poll.
      if (!got.length && liveHits === liveBefore) { got = [{ role: 'system', text: EMPTY_TEXT, at: Date.now() }]; }
      items = items.concat(got);
    }).catch(function (err) {
      // Timed out or answered with an error: the server may have seen the message. No answer at
      // all: the message never left this device.
      var server = err && (err.server || err.name === 'AbortError');
      items.push({ role: 'system', error: true, text: server ? SERVER_ERROR_TEXT : OFFLINE_TEXT,
                   retry: { message: message, id: id }, at: Date.now() });
    }).then(function () {
      if (timer) { clearTimeout(timer); }
    });
  }

  // --- 在线人工: queue place, the agent's messages (long poll of ./live) ----------------------------
  var liveHits = 0;
  var livePolling = false;
  var liveCursor = parseInt(load(LIVE_CURSOR_KEY) || '-1', 10);
  if (isNaN(liveCursor)) { liveCursor = -1; }

  function liveSeen(custom) {
    liveHits += 1;
    showLiveStatus(custom.state, custom.ahead, custom.agent);
    if (custom.state === 'waiting' || custom.state === 'held') { startLive(); }
  }

  function showLiveStatus(state, ahead, agent) {
    if (state === 'waiting') {
      liveStatusEl.textContent = '正在为您转接人工客服' + (typeof ahead === 'number' ? '，前面还有 ' + ahead + ' 位' : '') +
        '。等待期间可以继续向助手提问。';
      liveStatusEl.hidden = false;
    } else if (state === 'held') {
      liveStatusEl.textContent = '人工客服' + (agent ? ' ' + agent : '') + ' 正在为您服务';
      liveStatusEl.hidden = false;
    } else {
      liveStatusEl.hidden = true;
    }
  }

  function liveItems(messages) {
    var out = [];
    (Array.isArray(messages) ? messages : []).forEach(function (m) {
      if (!m || typeof m !== 'object') { return; }
      var rasa = { text: m.text, buttons: m.buttons, custom: m.custom };
      var got = toItems([rasa]);
      if (m.author && m.author !== 'system') {
        got.forEach(function (it) { it.agent = String(m.author); });
      }
      out = out.concat(got);
    });
    return out;
  }

  function pollLive(wait) {
    return fetch('live?after=' + liveCursor + '&wait=' + wait, { credentials: 'same-origin' })
      .then(function (res) { if (!res.ok) { throw new Error('HTTP ' + res.status); } return res.json(); })
      .then(function (body) {
        if (typeof body.cursor === 'number') {
          liveCursor = body.cursor;
          save(LIVE_CURSOR_KEY, String(liveCursor));
        }
        var got = liveItems(body.messages);
        if (got.length) {
          markAnswered();
          items = items.concat(got);
          persist();
          render();
        }
        showLiveStatus(body.state, body.ahead, body.agent);
        return body.state;
      });
  }

  function startLive() {
    if (livePolling) { return; }
    livePolling = true;
    (function loop() {
      pollLive(LIVE_WAIT_S).then(function (state) {
        if (state === 'waiting' || state === 'held') { loop(); return; }
        livePolling = false;
      }, function () {
        setTimeout(loop, LIVE_RETRY_MS);   // server restarting or offline: keep trying, lose nothing
      });
    }());
  }

  // --- input -------------------------------------------------------------------------------------
  function submit() {
    var text = input.value;
    if (!text.trim()) { input.focus(); return; }
    input.value = '';
    autosize();
    send(text);
    input.focus();
  }

  function autosize() {
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight, 120) + 'px';
  }

  form.addEventListener('submit', function (e) { e.preventDefault(); submit(); });
  input.addEventListener('input', autosize);
  input.addEventListener('keydown', function (e) {
    // Enter sends; Shift+Enter is a new line; Enter that confirms a Chinese IME candidate does not send.
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      submit();
    }
  });
  Array.prototype.forEach.call(document.querySelectorAll('.chip'), function (chip) {
    chip.addEventListener('click', function () { send(chip.getAttribute('data-text')); });
  });
  document.getElementById('human').addEventListener('click', function () { send(HUMAN_PAYLOAD, '转人工'); });
  document.getElementById('clear').addEventListener('click', function () {
    // The copy on this device is cleared. The customer's id (the cookie) stays, so "我的工单" still
    // finds their work orders, unless they choose a fresh start (a shared computer, say).
    items = [];
    persist();
    render();
    if (window.confirm('记录已清空。是否同时开始新的会话？\n（开始新会话后，“我的工单”将查不到此前的工单，请先记下工单号。）')) {
      fetch('session', { method: 'POST', credentials: 'same-origin' }).catch(function () {});
    }
  });
  window.addEventListener('offline', function () {
    items.push({ role: 'system', error: true, text: '网络已断开。恢复网络后即可继续咨询；紧急情况请拨打 95598。', at: Date.now() });
    persist();
    render();
  });

  render();
  // A reload in the middle of a queue or a live chat picks it up again (nothing is replayed: the
  // cursor says what this device has shown).
  pollLive(0).then(function (state) {
    if (state === 'waiting' || state === 'held') { startLive(); }
  }, function () {});
}());
