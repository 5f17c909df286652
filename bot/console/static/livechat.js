/* 在线人工 — the agent's page. No framework, no build step.
 *
 * Polls /api/live/state every second (this also tells the server the agent is still here), and
 * posts actions with the session's CSRF token. Every text from the server is inserted with
 * textContent, never innerHTML.
 */
(function () {
  'use strict';

  var POLL_MS = 1000;
  var root = document.getElementById('live');
  if (!root) { return; }
  var me = root.getAttribute('data-user');
  var csrf = (document.querySelector('#status-form input[name="csrf"]') || {}).value || '';
  var statusEl = document.getElementById('status');
  var dutyEl = document.getElementById('duty');
  var errorEl = document.getElementById('live-error');
  var queueEl = document.getElementById('queue');
  var queueCountEl = document.getElementById('queue-count');
  var mineEl = document.getElementById('mine');
  var headEl = document.getElementById('chat-head');
  var logEl = document.getElementById('chat-log');
  var quotaEl = document.getElementById('quota');
  var sendForm = document.getElementById('send-form');
  var replyEl = document.getElementById('reply');
  var transferTo = document.getElementById('transfer-to');

  var current = 0;     // the chat shown
  var after = 0;       // the last message id shown of it
  var statusTouched = false;
  var inflight = false;  // one poll at a time, so no message is shown twice
  var generation = 0;    // bumped when another chat is opened: a late answer for the old one is dropped

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function showError(text) {
    errorEl.textContent = text || '';
    errorEl.hidden = !text;
  }

  function post(url, body) {
    return fetch(url, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify(body || {})
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) { throw new Error(data.error || ('HTTP ' + res.status)); }
        showError('');
        return data;
      });
    }).catch(function (err) { showError(err.message); throw err; });
  }

  function waited(s) {
    return s < 60 ? s + ' 秒' : Math.floor(s / 60) + ' 分 ' + (s % 60) + ' 秒';
  }

  function chatItem(c, withAccept) {
    var li = el('li', 'live-item' + (c.id === current ? ' active' : ''));
    li.setAttribute('data-chat', String(c.id));
    if (c.priority) { li.appendChild(el('span', 'badge badge-urgent', c.priority)); }
    li.appendChild(el('span', 'customer', c.customer));
    li.appendChild(el('span', 'muted', ' 已等 ' + waited(c.waited_s)));
    if (withAccept) {
      var b = el('button', 'accept', '接入');
      b.type = 'button';
      b.addEventListener('click', function () {
        b.disabled = true;
        post('/api/live/' + c.id + '/accept').then(function () { open(c.id); }, function () { b.disabled = false; });
      });
      li.appendChild(b);
    } else {
      li.addEventListener('click', function () { open(c.id); });
    }
    return li;
  }

  function fill(listEl, chats, withAccept) {
    while (listEl.firstChild) { listEl.removeChild(listEl.firstChild); }
    if (!chats.length) { listEl.appendChild(el('li', 'muted', withAccept ? '没有排队的客户' : '暂无')); }
    chats.forEach(function (c) { listEl.appendChild(chatItem(c, withAccept)); });
  }

  function line(role, author, text, at, extra) {
    var row = el('div', 'line line-' + role);
    var head = el('div', 'line-head', (author || '') + (at ? '  ' + at : ''));
    row.appendChild(head);
    row.appendChild(el('div', 'line-text', text));
    if (extra) { row.appendChild(el('div', 'line-error', extra)); }
    logEl.appendChild(row);
    logEl.scrollTop = logEl.scrollHeight;
  }

  function open(id) {
    generation += 1;
    current = id;
    after = 0;
    while (logEl.firstChild) { logEl.removeChild(logEl.firstChild); }
    headEl.textContent = '正在打开……';
    poll();
  }

  function showChat(chat) {
    if (!chat) { return; }
    if (chat.gone) {
      headEl.textContent = '这个会话已不由您接待' + (chat.holder ? '（现由 ' + chat.holder + ' 接待）' : '') + '。';
      sendForm.hidden = true;
      current = 0;
      return;
    }
    headEl.textContent = chat.customer + ' · ' + (chat.state === 'held' ? '接待中' : chat.state);
    sendForm.hidden = chat.state !== 'held';
    if (chat.history) {
      if (chat.history.length) { line('divider', '', '—— 接入前的对话 ——', ''); }
      chat.history.forEach(function (m) { line(m.role, m.role === 'customer' ? '客户' : '助手', m.text, m.at); });
      line('divider', '', '—— 人工接待 ——', '');
    }
    (chat.messages || []).forEach(function (m) {
      var who = m.direction === 'in' ? '客户' : (m.author === 'system' ? '系统' : m.author);
      line(m.direction === 'in' ? 'customer' : (m.author === 'system' ? 'system' : 'agent'), who, m.text, m.at,
           m.delivery_error ? '未送达：' + m.delivery_error : '');
      after = Math.max(after, m.id);
    });
    if (chat.quota_left === null || chat.quota_left === undefined) {
      quotaEl.textContent = '';
    } else {
      quotaEl.textContent = '微信：客户再次发消息前还可发送 ' + chat.quota_left + ' 条（微信规定 48 小时内最多 5 条）。';
    }
  }

  function poll() {
    if (inflight) { return Promise.resolve(); }
    inflight = true;
    var mine = generation;
    var url = '/api/live/state' + (current ? '?chat=' + current + '&after=' + after : '');
    return fetch(url, { credentials: 'same-origin' }).then(function (res) {
      return res.json().then(function (data) {
        if (!res.ok) { throw new Error(data.error || ('HTTP ' + res.status)); }
        return data;
      });
    }).then(function (data) {
      showError('');
      if (!statusTouched && data.me) { statusEl.value = data.me.status; }
      var others = (data.on_duty || []).filter(function (a) { return a.username !== me; });
      dutyEl.textContent = '在岗：' + ((data.on_duty || []).map(function (a) {
        return a.username + (a.status === 'busy' ? '（忙碌）' : '');
      }).join('、') || '无');
      var chosen = transferTo.value;
      while (transferTo.firstChild) { transferTo.removeChild(transferTo.firstChild); }
      others.filter(function (a) { return a.status === 'online'; }).forEach(function (a) {
        var o = el('option', '', '转交给 ' + a.username);
        o.value = a.username;
        transferTo.appendChild(o);
      });
      if (chosen) { transferTo.value = chosen; }
      queueCountEl.textContent = '（' + data.queue.length + '）';
      fill(queueEl, data.queue, true);
      fill(mineEl, data.mine, false);
      if (current && mine === generation) { showChat(data.chat); }
    }).catch(function (err) { showError(err.message + '（正在重试）'); })
      .then(function () { inflight = false; });
  }

  statusEl.addEventListener('change', function () {
    statusTouched = true;
    post('/api/live/status', { status: statusEl.value });
  });

  function send(text, source) {
    if (!current || !text.trim()) { return Promise.resolve(); }
    return post('/api/live/' + current + '/send', { text: text, source: source || '' }).then(poll);
  }

  sendForm.addEventListener('submit', function (e) {
    e.preventDefault();
    var text = replyEl.value;
    replyEl.value = '';
    send(text).catch(function () { replyEl.value = text; });
  });
  replyEl.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      sendForm.requestSubmit ? sendForm.requestSubmit() : sendForm.dispatchEvent(new Event('submit'));
    }
  });
  document.getElementById('end').addEventListener('click', function () {
    if (!current || !window.confirm('结束本次人工服务？客户会收到评价邀请。')) { return; }
    post('/api/live/' + current + '/end').then(function () {
      line('divider', '', '—— 已结束 ——', '');
      sendForm.hidden = true;
      current = 0;
      poll();
    });
  });
  document.getElementById('transfer').addEventListener('click', function () {
    if (!current || !transferTo.value) { showError('没有可以转交的在线同事。'); return; }
    post('/api/live/' + current + '/transfer', { to: transferTo.value }).then(function () {
      line('divider', '', '—— 已转交给 ' + transferTo.value + ' ——', '');
      sendForm.hidden = true;
      current = 0;
      poll();
    });
  });

  // Knowledge search beside the chat: an answer goes to the customer with one click, with its source.
  var kbResults = document.getElementById('kb-results');
  function showAnswer(data) {
    while (kbResults.firstChild) { kbResults.removeChild(kbResults.firstChild); }
    var e = data.entry;
    if (e && e.answer) {
      var card = el('div', 'kb-card');
      card.appendChild(el('div', 'kb-question', e.question));
      card.appendChild(el('div', 'kb-answer', e.answer));
      if (e.source) { card.appendChild(el('div', 'kb-source muted', '依据：' + e.source)); }
      var b = el('button', 'kb-send', '发送给客户');
      b.type = 'button';
      b.addEventListener('click', function () { send(e.answer, e.source || e.id); });
      card.appendChild(b);
      kbResults.appendChild(card);
    }
    (data.candidates || []).forEach(function (c) {
      if (e && c.entry_id === e.id) { return; }
      var a = el('button', 'kb-candidate link', c.question);
      a.type = 'button';
      a.addEventListener('click', function () { ask(c.question); });
      kbResults.appendChild(a);
    });
    if (!kbResults.firstChild) { kbResults.appendChild(el('p', 'muted', '知识库里没有找到。')); }
  }
  function ask(q) {
    fetch('/api/ask?q=' + encodeURIComponent(q), { credentials: 'same-origin' })
      .then(function (res) { return res.json(); }).then(showAnswer, function () { showError('知识查询失败'); });
  }
  document.getElementById('kb-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var q = document.getElementById('kb-q').value.trim();
    if (q) { ask(q); }
  });

  poll();
  setInterval(poll, POLL_MS);
}());
