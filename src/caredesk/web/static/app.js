// caredesk inbox: live updates (server-sent events from /live), the composer, keyboard shortcuts.
// Pages are rendered on the server; this swaps in fresh server-rendered partials and calls the JSON API
// with the session cookie and the CSRF token. Text from the server is only ever set with textContent.
(() => {
  "use strict";
  const body = document.body;
  const csrf = body.dataset.csrf || "";
  const $ = (id) => document.getElementById(id);
  // UI text in the page's language: the server embeds the catalogue of every t("...") below (web/i18n.py).
  let catalogue = {};
  try { catalogue = JSON.parse(($("messages") || {}).textContent || "{}"); } catch (_) { catalogue = {}; }
  const t = (message, values = {}) => (catalogue[message] || message).replace(/%\((\w+)\)s/g, (_, k) => String(values[k] ?? ""));

  const api = async (method, url, data) => {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: data === undefined ? undefined : JSON.stringify(data),
    });
    let json = null;
    try { json = await response.json(); } catch (_) { json = null; }
    return { ok: response.ok, status: response.status, json };
  };

  const el = (tag, attrs = {}, text) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  };

  const debounce = (fn, ms) => {
    let timer = null;
    return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  };

  const listen = (handlers) => {
    if (!window.EventSource) return;
    const source = new EventSource("/live");
    for (const [name, fn] of Object.entries(handlers)) {
      source.addEventListener(name, (e) => { try { fn(JSON.parse(e.data)); } catch (_) { /* a bad frame */ } });
    }
  };

  // --- help and presence, on every page ---------------------------------------------------------
  const help = $("help");
  const toggleHelp = (show) => { if (help) help.hidden = !show; };
  document.querySelectorAll("[data-open-help]").forEach((b) => b.addEventListener("click", () => toggleHelp(true)));
  document.querySelectorAll("[data-close-help]").forEach((b) => b.addEventListener("click", () => toggleHelp(false)));
  const presenceSelect = $("presence");
  if (presenceSelect) {
    presenceSelect.addEventListener("change", () => api("PUT", "/api/v1/me/presence", { presence: presenceSelect.value }));
  }

  const typing = (e) => {
    const t = e.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  };

  // --- the queue ----------------------------------------------------------------------------------
  if (body.dataset.page === "queue") {
    let selected = null;  // conversation id of the selected row
    const rows = () => Array.from(document.querySelectorAll("tr[data-conversation]"));
    const select = (row) => {
      rows().forEach((r) => r.classList.remove("selected"));
      if (!row) return;
      row.classList.add("selected");
      row.focus({ preventScroll: true });
      row.scrollIntoView({ block: "nearest" });
      selected = row.dataset.conversation;
    };
    const wire = () => {
      rows().forEach((r) => r.addEventListener("click", (e) => {
        if (e.target.tagName !== "A") window.location = `/c/${r.dataset.conversation}`;
      }));
      const again = rows().find((r) => r.dataset.conversation === selected);
      if (again) select(again);
    };
    const refresh = debounce(async () => {
      const panel = $("queue-panel");
      if (!panel) return;
      const params = new URLSearchParams({ ws: panel.dataset.ws, view: panel.dataset.view, status: panel.dataset.status });
      if (panel.dataset.q) params.set("q", panel.dataset.q);
      const response = await fetch(`/partials/queue?${params}`, { credentials: "same-origin" });
      if (!response.ok) return;
      const holder = document.createElement("div");
      holder.innerHTML = await response.text();  // server-rendered and autoescaped
      const fresh = holder.querySelector("#queue-panel");
      if (fresh) { panel.replaceWith(fresh); wire(); }
    }, 150);
    wire();
    listen({ changed: refresh, agents: refresh, sla: refresh, spike: refresh });
    setInterval(refresh, 30000);  // waiting times and SLA countdowns move on their own
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape") { toggleHelp(false); return; }
      if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
      const all = rows();
      const index = all.findIndex((r) => r.dataset.conversation === selected);
      if (e.key === "j") { select(all[Math.min(all.length - 1, index + 1)]); e.preventDefault(); }
      else if (e.key === "k") { select(all[Math.max(0, index - 1)]); e.preventDefault(); }
      else if ((e.key === "Enter" || e.key === "o") && selected) { window.location = `/c/${selected}`; }
      else if (e.key === "/") { const s = $("search"); if (s) { s.focus(); e.preventDefault(); } }
      else if (e.key === "?") { toggleHelp(true); }
    });
  }

  // --- the supervisor view ----------------------------------------------------------------------
  if (body.dataset.page === "supervise") {
    const refresh = debounce(async () => {
      const panel = $("supervisor-panel");
      if (!panel) return;
      const response = await fetch(`/partials/supervise?ws=${panel.dataset.ws}`, { credentials: "same-origin" });
      if (!response.ok) return;
      const holder = document.createElement("div");
      holder.innerHTML = await response.text();  // server-rendered and autoescaped
      const fresh = holder.querySelector("#supervisor-panel");
      if (fresh) panel.replaceWith(fresh);
    }, 200);
    listen({ changed: refresh, agents: refresh, sla: refresh, spike: refresh });
    setInterval(refresh, 30000);
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape") { if (help && !help.hidden) toggleHelp(false); else window.location = "/"; }
      else if (e.key === "?" && !typing(e)) toggleHelp(true);
    });
  }

  // --- approvals ----------------------------------------------------------------------------------
  if (body.dataset.page === "approvals") {
    const decide = async (id, approve) => {
      const reason = (document.querySelector(`[data-reason="${id}"]`) || {}).value || "";
      const r = await api("POST", `/api/v1/approvals/${id}/${approve ? "approve" : "reject"}`, reason ? { reason } : {});
      const out = document.querySelector(`[data-outcome="${id}"]`);
      if (r.ok) {
        out.textContent = approve ? t("Approved: queued to publish.") : t("Rejected: the requester is told.");
        document.querySelectorAll(`[data-approve="${id}"], [data-reject="${id}"]`).forEach((b) => { b.disabled = true; });
      } else {
        out.textContent = (r.json && r.json.detail) || t("Not done.");
      }
    };
    document.querySelectorAll("[data-approve]").forEach((b) => b.addEventListener("click", () => decide(b.dataset.approve, true)));
    document.querySelectorAll("[data-reject]").forEach((b) => b.addEventListener("click", () => decide(b.dataset.reject, false)));
  }

  // --- one conversation ---------------------------------------------------------------------------
  if (body.dataset.page === "conversation") {
    const id = Number(body.dataset.conversationId);
    const text = $("reply-text");
    const checks = $("checks");
    const status = $("composer-status");
    const counter = $("counter");
    const signature = $("signature");
    const visibility = $("visibility");
    const draftKey = `caredesk:draft:${id}`;
    let seen = Number(($("thread-body") || {}).dataset?.lastMessageId || 0);  // newest message on screen
    let moveNote = null;

    const say = (message) => { status.textContent = message || ""; };

    // drafts survive a reload
    text.value = localStorage.getItem(draftKey) || "";
    const saveDraft = () => { if (text.value) localStorage.setItem(draftKey, text.value); else localStorage.removeItem(draftKey); };

    const showChecks = (result) => {
      checks.replaceChildren();
      moveNote = null;
      for (const f of result.findings || []) {
        const li = el("li", { class: f.severity, "data-check": f.check }, f.message);
        if (f.fix && f.fix.move_to_private) {
          moveNote = f.fix.move_to_private.public_note;
          const b = el("button", { type: "button", "data-fix": "move_to_private" }, t("Move to private message"));
          b.addEventListener("click", () => send({ move: true }));
          li.append(" ", b);
        }
        if (f.fix && f.fix.thread) {
          const list = el("ol", { class: "thread-preview" });
          for (const part of f.fix.thread) list.append(el("li", {}, part));
          li.append(list);
        }
        for (const s of f.spans || []) {
          if (s.suggestions && s.suggestions.length) li.append(el("div", { class: "suggest" }, `${s.word}: ${s.suggestions.join(", ")}`));
        }
        checks.append(li);
      }
      if (result.length) {
        counter.textContent = `${result.length.length} / ${result.length.limit}`;
        counter.classList.toggle("over", result.length.length > result.length.limit);
      }
      signature.textContent = result.signature ? t("Signed as: %(signature)s", { signature: result.signature.trim() }) : "";
    };

    const runChecks = debounce(async () => {
      saveDraft();
      if (!text.value.trim()) { checks.replaceChildren(); counter.textContent = ""; signature.textContent = ""; return; }
      const r = await api("POST", `/api/v1/conversations/${id}/checks`, { text: text.value, public: visibility.value === "public" });
      if (r.ok && r.json) showChecks(r.json);
    }, 300);

    const send = async ({ resolve = false, move = false, confirm = false, approval = false } = {}) => {
      if (!text.value.trim()) { text.focus(); return; }
      const payload = { text: text.value, public: visibility.value === "public", resolve, seen_message_id: seen, confirm,
                        request_approval: approval };
      if (move) { payload.move_to_private = true; payload.public = undefined; if (moveNote) payload.public_note = moveNote; }
      say(t("Sending…"));
      const r = await api("POST", `/api/v1/conversations/${id}/replies`, payload);
      if (r.ok) {
        const held = r.json && r.json.delivery === "approval";
        say(held ? t("Waiting for a supervisor's approval.") : (move ? t("Sent privately, with a public note.") : t("Queued to send.")));
        text.value = ""; saveDraft(); checks.replaceChildren(); counter.textContent = ""; signature.textContent = "";
        refreshThread();
        return;
      }
      if (r.status === 409 && r.json && r.json.changes) {
        say("");
        checks.replaceChildren();
        const li = el("li", { class: "warn", "data-check": "changed" }, r.json.detail);
        for (const c of r.json.changes) li.append(el("div", { class: "suggest" }, `${c.direction === "in" ? t("Customer") : (c.author_name || t("Colleague"))}: ${c.text}`));
        const again = el("button", { type: "button", "data-fix": "confirm" }, t("Send anyway"));
        again.addEventListener("click", () => send({ resolve, move, approval, confirm: true }));
        li.append(again);
        checks.append(li);
        refreshThread();
        return;
      }
      if (r.json && r.json.checks) { showChecks({ findings: r.json.checks }); say(t("Not sent: see the checks.")); return; }
      say(r.json && r.json.detail ? t("Not sent: %(reason)s", { reason: r.json.detail }) : t("Not sent."));
    };

    const refreshThread = debounce(async () => {
      const response = await fetch(`/partials/conversation/${id}`, { credentials: "same-origin" });
      if (!response.ok) return;
      const holder = document.createElement("div");
      holder.innerHTML = await response.text();  // server-rendered and autoescaped
      const fresh = holder.querySelector("#thread-body");
      const current = $("thread-body");
      if (fresh && current) current.replaceWith(fresh);
    }, 100);

    // who else is here
    const showPresent = (others) => {
      const box = $("present");
      box.replaceChildren(...others.map((p) => el("span", { class: "badge", "data-agent": p.agent_id }, p.state === "typing" ? t("%(name)s is typing", { name: p.name }) : t("%(name)s is viewing", { name: p.name }))));
    };
    let state = "viewing";
    const report = async () => {
      const r = await api("PUT", `/api/v1/conversations/${id}/presence`, { state });
      if (r.ok && r.json) showPresent(r.json.others);
    };
    let typingUntil = 0;
    text.addEventListener("input", () => {
      runChecks();
      const now = Date.now();
      if (state !== "typing" || now > typingUntil - 4000) { state = "typing"; typingUntil = now + 6000; report(); }
    });
    setInterval(() => { if (state === "typing" && Date.now() > typingUntil) state = "viewing"; report(); }, 5000);
    report();
    window.addEventListener("pagehide", () => {
      fetch(`/api/v1/conversations/${id}/presence`, { method: "PUT", keepalive: true, credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify({ state: "left" }) });
    });
    visibility.addEventListener("change", runChecks);
    if (text.value) runChecks();

    // canned responses
    const cannedQ = $("canned-q");
    const cannedList = $("canned-list");
    const insert = (value) => {
      const start = text.selectionStart ?? text.value.length;
      const end = text.selectionEnd ?? text.value.length;
      text.value = text.value.slice(0, start) + value + text.value.slice(end);
      text.focus();
      const blank = text.value.indexOf("[[");  // put the caret on the first field to fill in
      if (blank >= 0) text.setSelectionRange(blank, text.value.indexOf("]]", blank) + 2);
      runChecks();
    };
    const searchCanned = debounce(async () => {
      const q = cannedQ.value.trim();
      const r = await api("GET", `/api/v1/conversations/${id}/canned-responses?limit=6${q ? `&q=${encodeURIComponent(q)}` : ""}`);
      cannedList.replaceChildren();
      if (!r.ok || !r.json) return;
      for (const s of r.json.suggestions) {
        const b = el("button", { type: "button", "data-canned": s.id }, s.name);
        b.append(el("span", { class: "shortcut" }, s.shortcut ? `  /${s.shortcut}` : ""));
        b.addEventListener("click", () => { insert(s.text); cannedList.replaceChildren(); cannedQ.value = ""; });
        cannedList.append(el("li"));
        cannedList.lastChild.append(b);
      }
    }, 200);
    cannedQ.addEventListener("input", searchCanned);
    cannedQ.addEventListener("focus", searchCanned);

    $("send").addEventListener("click", () => send());
    $("send-resolve").addEventListener("click", () => send({ resolve: true }));
    $("request-approval").addEventListener("click", () => send({ approval: true }));
    $("add-note").addEventListener("click", async () => {
      const note = $("note-text");
      if (!note.value.trim()) return;
      const r = await api("POST", `/api/v1/conversations/${id}/notes`, { text: note.value });
      if (r.ok) { note.value = ""; refreshThread(); }
    });
    $("assign").addEventListener("change", async (e) => {
      const value = e.target.value;
      const r = await api("POST", `/api/v1/conversations/${id}/assign`, { agent_id: value ? Number(value) : null });
      say(r.ok ? t("Owner changed.") : (r.json && r.json.detail) || t("Could not change the owner."));
    });
    const setStatus = async (value) => {
      const r = await api("POST", `/api/v1/conversations/${id}/status`, { status: value });
      say(r.ok ? t("Now %(status)s.", { status: t(value) }) : (r.json && r.json.detail) || t("Could not change the status."));
      document.querySelectorAll("[data-status]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.status === value)));
    };
    document.querySelectorAll("[data-status]").forEach((b) => b.addEventListener("click", () => setStatus(b.dataset.status)));
    $("escalate").addEventListener("click", async () => {
      const r = await api("POST", `/api/v1/conversations/${id}/escalate`, {});
      say(r.ok ? t("Escalated: the ticket appears here when the ticket system answers.") : (r.json && r.json.detail) || t("Not escalated."));
    });

    listen({
      changed: (d) => { if ((d.ids || []).includes(id)) refreshThread(); },
      presence: (d) => { if (d.id === id) showPresent((d.present || []).filter((p) => String(p.agent_id) !== body.dataset.me)); },
      notice: (d) => { if (d.conversation_id === id) say(d.kind === "approval.approved" ? t("Your reply was approved.") : t("Your reply was rejected: %(reason)s", { reason: d.reason || "" })); },
    });

    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        if (help && !help.hidden) { toggleHelp(false); return; }
        if (typing(e)) { e.target.blur(); return; }
        window.location = `/?ws=${body.dataset.workspaceId}`;
        return;
      }
      if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === "r") { text.focus(); e.preventDefault(); }
      else if (e.key === "n") { $("note-text").focus(); e.preventDefault(); }
      else if (e.key === "a") { $("assign").focus(); e.preventDefault(); }
      else if (e.key === "e") { setStatus("resolved"); }
      else if (e.key === "/") { cannedQ.focus(); e.preventDefault(); }
      else if (e.key === "?") { toggleHelp(true); }
    });
    // The thread partial refreshed: the newest message on screen moves on only when the agent reloads
    // or sends, so a reply drafted before new messages is caught by the server (409 "changes").
    text.addEventListener("focus", () => { const t = $("thread-body"); if (t && !text.value) seen = Number(t.dataset.lastMessageId || seen); });
  }

  // --- settings (admins) ------------------------------------------------------------------------
  // Forms are drawn on the server from the API's request models (web/forms.py); each input names its
  // place in the JSON body (data-field, dotted) and how to read it (data-kind).
  if (body.dataset.page === "settings") {
    const read = (form) => {
      const data = {};
      const put = (path, value) => {
        const keys = path.split(".");
        let node = data;
        for (const k of keys.slice(0, -1)) node = (node[k] ??= {});
        node[keys[keys.length - 1]] = value;
      };
      const problems = [];
      const multi = {};
      form.querySelectorAll("[data-field]").forEach((input) => {
        const { field, kind } = input.dataset;
        const raw = input.value;
        if (kind === "multi") {
          multi[field] ??= { values: [], nullable: input.dataset.nullable === "true" };
          if (input.checked) multi[field].values.push(Number(input.value));
          return;
        }
        if (kind === "checkbox") { put(field, input.checked); return; }
        if (kind === "tristate") { put(field, raw === "" ? null : raw === "yes"); return; }
        if (raw.trim() === "") { if (input.dataset.nullable === "true") put(field, null); return; }
        if (kind === "number") { put(field, Number(raw)); return; }
        if (kind === "choice") { put(field, /^\d+$/.test(raw) ? Number(raw) : raw); return; }
        if (kind === "list") { put(field, raw.split(/\n|,/).map((x) => x.trim()).filter(Boolean)); return; }
        if (kind === "intlist") { put(field, raw.split(/[\s,]+/).filter(Boolean).map(Number)); return; }
        if (kind === "json") {
          try { put(field, JSON.parse(raw)); } catch (_) { problems.push(t("%(field)s is not valid JSON.", { field: input.dataset.label })); }
          return;
        }
        put(field, raw);
      });
      // none ticked: "any" where the field may be left unset (an SLA's channels), else an empty list
      for (const [field, m] of Object.entries(multi)) put(field, m.values.length || !m.nullable ? m.values : null);
      return { data, problems };
    };
    const fill = (form, item) => {
      form.querySelectorAll("[data-field]").forEach((input) => {
        const value = input.dataset.field.split(".").reduce((node, k) => (node == null ? undefined : node[k]), item);
        const { kind } = input.dataset;
        if (kind === "multi") { input.checked = (value || []).map(String).includes(input.value); return; }
        if (kind === "checkbox") { input.checked = Boolean(value); return; }
        if (kind === "password") { input.value = ""; return; }
        if (value === undefined || value === null) { input.value = ""; return; }
        if (kind === "tristate") { input.value = value ? "yes" : "no"; return; }
        if (kind === "list" || kind === "intlist") { input.value = value.join(kind === "list" ? "\n" : ", "); return; }
        if (kind === "json") { input.value = JSON.stringify(value, null, 2); return; }
        input.value = String(value);
      });
    };
    const submit = async (form) => {
      const out = form.querySelector("[data-form-status]");
      const { data, problems } = read(form);
      if (problems.length) { out.textContent = problems.join(" "); return; }
      out.textContent = t("Saving…");
      const r = await api(form.dataset.method, form.dataset.url, data);
      if (r.ok) { out.textContent = t("Saved."); window.location.reload(); return; }
      const detail = r.json && (r.json.detail || r.json.error);
      out.textContent = t("Not saved: %(reason)s", { reason: typeof detail === "string" ? detail : JSON.stringify(detail) });
    };
    document.querySelectorAll("form[data-settings-form]").forEach((form) => {
      form.addEventListener("submit", (e) => { e.preventDefault(); submit(form); });
    });
    const editor = $("edit-form");
    const single = $("single-data");
    if (single && editor) fill(editor, JSON.parse(single.textContent || "{}"));
    document.querySelectorAll("[data-edit]").forEach((b) => b.addEventListener("click", () => {
      if (!editor) return;
      fill(editor, JSON.parse(b.dataset.edit));
      editor.dataset.url = b.dataset.url;
      editor.hidden = false;
      editor.querySelector("[data-editing]").textContent = b.dataset.name || "";
      const first = editor.querySelector("[data-field]");
      if (first) first.focus();
    }));
    document.querySelectorAll("[data-cancel-edit]").forEach((b) => b.addEventListener("click", () => { if (editor) editor.hidden = true; }));
    document.querySelectorAll("[data-delete]").forEach((b) => b.addEventListener("click", async () => {
      if (!window.confirm(t("Delete %(name)s?", { name: b.dataset.name || "" }))) return;
      const r = await api("DELETE", b.dataset.delete);
      if (r.ok) window.location.reload();
      else b.closest("tr").querySelector("[data-row-status]").textContent = (r.json && r.json.detail) || t("Not done.");
    }));
    document.querySelectorAll("[data-action]").forEach((b) => b.addEventListener("click", async () => {
      const out = b.closest("tr").querySelector("[data-row-status]");
      out.textContent = t("Working…");
      const r = await api("POST", b.dataset.action, {});
      if (r.ok && r.json && r.json.ok === false) out.textContent = t("Failed: %(reason)s", { reason: r.json.error || "" });
      else out.textContent = r.ok ? t("OK") : (r.json && r.json.detail) || t("Not done.");
    }));
  }

  // --- the team page: who is on shift, live --------------------------------------------------------
  if (body.dataset.page === "team") {
    const refresh = debounce(async () => {
      const panel = $("team-panel");
      if (!panel) return;
      const response = await fetch(`/partials/team?ws=${panel.dataset.ws}`, { credentials: "same-origin" });
      if (!response.ok) return;
      const holder = document.createElement("div");
      holder.innerHTML = await response.text();  // server-rendered and autoescaped
      const fresh = holder.querySelector("#team-panel");
      if (fresh) panel.replaceWith(fresh);
    }, 200);
    listen({ agents: refresh });
    setInterval(refresh, 60000);
  }
})();
