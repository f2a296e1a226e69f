// Never lose work: model files, run cards, share links, the autosave (every minute while training, and when
// asked) and resuming it. Owns app.autosave, app.offer and app.lastModel.
import { formatBytes } from '../ui/format.js';
import { pythonErrorMessage } from '../pyhost.js';
import { toQuery } from '../params.js';
import { saveRecord, loadRecord, deleteRecord, storageErrorMessage } from '../store.js';

const MAX_MODEL_BYTES = 50 * 1024 * 1024;
const CARD_FORMAT = 'robotrain-run-card';
const AUTOSAVE_EVERY_MS = 60_000;

/**
 * app: the page's state (app/state.js); ui: the page's controls; session: app/session.js; messages:
 * app/messages.js; settings: app/settings.js; ownsAutosave(): resolves to whether this tab owns the autosave
 * slot (app/tabs.js); showLiveCaption(): app/view.js.
 */
export function createPersistence({ app, ui, session, messages, settings, ownsAutosave, showLiveCaption }) {
  const { notice } = messages;
  setInterval(() => {
    const t = app.trainer;
    if (t && t.state === 'running' && performance.now() - app.autosave.lastAttempt >= AUTOSAVE_EVERY_MS) autosave('every minute');
  }, 5000);

  function download(name, text) {
    const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  function downloadModel() {
    if (!app.trainer) return null;
    const text = app.trainer.modelText();
    const s = app.trainer.stats();
    download(`robotrain-${s.config.env_id}-seed${s.config.seed}-${s.env_steps}steps.model.json`, text);
    notice(`Saved the model (policy version ${s.policy_version}, ${s.env_steps.toLocaleString('en-US')} env steps).`);
    return text;
  }

  function runCard() {
    const t = app.trainer;
    const s = t.stats();
    return {
      format: CARD_FORMAT,
      format_version: 1,
      exported_at: new Date().toISOString(),
      env_id: s.config.env_id,
      config: s.config,
      seeds: {
        run_seed: s.config.seed,
        how: 'episode seeds come from (run_seed, episode id, stream) via robotrain.seeding.episode_seed; stream 0 trains, 1 evaluates',
      },
      settings: { mode: app.settings.mode, workers: app.settings.workers },
      summary: {
        episodes: s.episodes,
        env_steps: s.env_steps,
        updates: s.updates,
        policy_version: s.policy_version,
        last_eval_return: s.last_eval_return,
        best_eval_return: s.best_eval_return,
        solved_at_env_step: s.solved_at_env_step,
        training_wall_ms: s.training_wall_ms,
      },
      model: t.modelText(),
      curves: app.curves.curve,
    };
  }

  function downloadCard() {
    if (!app.trainer) return null;
    const card = runCard();
    download(`robotrain-${card.env_id}-seed${card.seeds.run_seed}.runcard.json`, JSON.stringify(card));
    notice('Exported the run card: another browser can load it (Load model / run card…) to watch this policy.');
    return card;
  }

  function cleanPythonError(error) {
    return pythonErrorMessage(error).replace(/^(ValueError|TypeError|KeyError): /, '');
  }

  async function loadFile(file) {
    if (file.size > MAX_MODEL_BYTES) {
      const message = `model file is ${(file.size / 2 ** 20).toFixed(1)} MB; the limit is 50 MB`;
      notice(`Could not load "${file.name}": ${message}. The current run is untouched.`, 'error');
      return { ok: false, error: message };
    }
    const bytes = new Uint8Array(await file.arrayBuffer());
    return loadBytes(bytes, file.name);
  }

  /** Load a model file or a run card from bytes; on any problem show it and leave the current run alone. */
  function loadBytes(bytes, name) {
    if (!app.glue || !app.trainer) return { ok: false, error: 'the page is still loading' };
    if (bytes.length > MAX_MODEL_BYTES) {
      const message = `model file is ${(bytes.length / 2 ** 20).toFixed(1)} MB; the limit is 50 MB`;
      notice(`Could not load "${name}": ${message}. The current run is untouched.`, 'error');
      return { ok: false, error: message };
    }
    let card = null;
    try {
      const doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
      if (doc && doc.format === CARD_FORMAT) card = doc;
    } catch {
      /* not JSON: the model-file check below names the problem */
    }
    let facts;
    try {
      if (card && typeof card.model !== 'string') throw new Error('run card has no "model" (the model file text)');
      facts = JSON.parse(app.glue.load_model(card ? card.model : bytes, card ? '' : app.trainer.config.env_id));
    } catch (error) {
      const message = cleanPythonError(error);
      notice(`Could not load "${name}": ${message}. The current run is untouched.`, 'error');
      return { ok: false, error: message };
    }
    session.pause();
    settings.adoptConfig(facts.config);
    session.rebuild({ why: `Loaded "${name}"` });
    if (!app.trainer) return { ok: false, error: app.trainerError };
    app.trainer.applyLoadedModel();
    app.lastModel = { name, policy_version: facts.policy_version, env_steps: facts.env_steps, card: Boolean(card) };
    if (card) {
      app.trainer.setWatchOnly();
      showLiveCaption();
      if (card.curves) app.curves.load(card.curves);
      notice(`Watching the policy of run card "${name}" (${facts.env_id}, ${facts.env_steps.toLocaleString('en-US')} env steps of training); no training runs. Reset to train a fresh run.`);
    } else {
      // The weights come with no replay buffer, optimizer or counters: the page's counters start a new run.
      notice(`Loaded "${name}": a ${facts.env_id} policy trained elsewhere to version ${facts.policy_version} over ${facts.env_steps.toLocaleString('en-US')} env steps. Its weights start a new run here (the counters, epsilon and the curves begin again). Watch it live, or Start to train on from these weights.`);
    }
    messages.refreshMessage();
    return { ok: true, ...facts, card: Boolean(card) };
  }

  function shareLink() {
    if (!app.trainer) return null;
    const config = { ...app.trainer.config };
    delete config.env_id;
    // The page's address without its query (location.origin is "null" for a file in Firefox).
    const page = location.href.split(/[?#]/)[0];
    return `${page}${toQuery(app.settings, { all: true, autostart: true, config })}`;
  }

  function showShare() {
    const url = shareLink();
    if (!url) return;
    ui.showShareLink(url);
    navigator.clipboard?.writeText(url).then(
      () => notice('Share link copied: it holds the whole configuration and seed, and starts the same run when opened.'),
      () => notice('Share link below: it holds the whole configuration and seed, and starts the same run when opened.'),
    );
  }

  async function autosave(reason) {
    const t = app.trainer;
    if (!t || t.disposed || t.watchOnly || app.autosave.busy || t.counts.episodes === 0) return { ok: false, skipped: true };
    if (app.ownsAutosave !== true && !(await ownsAutosave())) {
      return { ok: false, skipped: true, reason: 'another tab owns the autosave' };
    }
    if (t.disposed || app.autosave.busy) return { ok: false, skipped: true }; // changed while the lock was asked
    app.autosave.busy = true;
    app.autosave.lastAttempt = performance.now();
    try {
      const snap = { ...t.snapshot(), ...app.curves.toJSON() };
      const record = { version: 1, saved_at: Date.now(), reason, settings: app.settings, ...snap };
      await saveRecord(record);
      app.autosave.last_ok_at = Date.now();
      app.autosave.last_error = null;
      app.autosave.bytes = snap.run.length;
      app.autosave.saves += 1;
      ui.setAutosaveStatus(`Autosaved at ${new Date().toLocaleTimeString()} (${formatBytes(snap.run.length)}, ${reason}).`);
      return { ok: true, bytes: snap.run.length };
    } catch (error) {
      app.autosave.last_error = storageErrorMessage(error);
      notice(app.autosave.last_error, 'error');
      ui.setAutosaveStatus('Autosave failed.');
      return { ok: false, error: app.autosave.last_error };
    } finally {
      app.autosave.busy = false;
    }
  }

  async function offerResume() {
    if (!(await ownsAutosave())) return; // the run is live in another tab (app/tabs.js)
    let record = null;
    try {
      record = await loadRecord();
    } catch {
      return;
    }
    if (!record || !record.run || !record.settings) return;
    app.offer = record;
    const when = new Date(record.saved_at).toLocaleString();
    ui.showResumeOffer(
      `A run was autosaved on ${when}: ${record.settings.env}, ${record.counts.episodes.toLocaleString('en-US')} episodes, ${record.counts.env_steps.toLocaleString('en-US')} env steps. Resume it where it stopped?`,
    );
  }

  function answerResume(yes) {
    const record = app.offer;
    app.offer = null;
    ui.showResumeOffer(null);
    if (!record) return false;
    if (!yes) {
      deleteRecord().catch(() => {});
      return false;
    }
    session.pause();
    settings.applySettings(record.settings);
    session.rebuild({ restore: record, why: 'Resumed the autosaved run' });
    if (app.trainer) notice(`Resumed the autosaved run: ${record.counts.episodes.toLocaleString('en-US')} episodes, ${record.counts.env_steps.toLocaleString('en-US')} env steps. Start to go on.`);
    return Boolean(app.trainer);
  }
  return { answerResume, autosave, cleanPythonError, downloadCard, downloadModel, loadBytes, loadFile, offerResume, runCard, shareLink, showShare };
}
