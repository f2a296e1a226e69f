// The robot view: the current run's greedy policy live, or the exact replay of a finished episode; its caption
// and the list of episodes to replay. Owns app.replay.
import { legendOf } from '../draw.js';

/** app: the page's state (app/state.js); ui: the page's controls (ui.js). */
export function createView({ app, ui }) {
  /** Draw the frame `dt` seconds after the last one: the live robot, or the replay moved on at its own pace. */
  function draw(dt) {
    const t = app.trainer;
    if (!t || t.disposed) return;
    const r = app.replay;
    if (r) {
      if (r.playing) {
        const rate = Math.min(60, Math.max(15, 1 / (t.drawSpec.tau_s ?? t.drawSpec.dt_s ?? 0.02)));
        r.position = Math.min(r.length, r.position + dt * rate);
        r.frame = Math.floor(r.position);
        if (r.frame >= r.length) r.playing = false;
      }
      ui.drawRobot(Array.from(r.states.subarray(r.frame * r.dim, (r.frame + 1) * r.dim)), t.drawSpec);
      ui.showReplay(r);
      return;
    }
    ui.drawRobot(t.view.step(dt), t.drawSpec);
  }

  /** The caption under the live view: what is shown, what its marks mean, what a click does. */
  function showLiveCaption() {
    const t = app.trainer;
    const what = t.watchOnly ? 'the run card’s greedy policy' : 'the current greedy policy (no exploration)';
    ui.setCaption(`${t.config.env_id}: ${what}, acting live. ${legendOf(t.drawSpec?.kind)} Click or drag on the robot to push it.`);
  }

  function refreshReplayList() {
    ui.setReplayList(app.curves.best, app.curves.recent);
  }

  /** Replay a finished episode ('best' or an id among the last 1,000) in the view; {episode_id, length, return}. */
  function replay(id) {
    const t = app.trainer;
    const episode = t ? app.curves.findEpisode(id) : null;
    if (!episode) return { error: `episode ${id} is not among the last 1,000 finished episodes` };
    const r = t.view.replay(episode);
    app.replay = { ...r, frame: 0, position: 0, playing: true };
    ui.setViewMode(`replay of episode #${episode.id} (return ${episode.ret.toFixed(1)})`);
    ui.setCaption(`Replay of training episode #${episode.id} (with exploration), re-simulated from its recorded actions; ${r.length} steps. “Back to live” returns to the greedy policy.`);
    ui.showReplay(app.replay);
    return { episode_id: episode.id, length: r.length, return: episode.ret, terminated: episode.terminated };
  }

  function replaySeek(frame) {
    const r = app.replay;
    if (!r) return null;
    r.frame = Math.max(0, Math.min(r.length, Math.round(frame)));
    r.position = r.frame;
    r.playing = false;
    ui.showReplay(r);
    return r.frame;
  }

  function replayStop() {
    app.replay = null;
    ui.showReplay(null);
    if (app.trainer) showLiveCaption();
  }

  function replayToggle() {
    if (app.replay) app.replay.playing = !app.replay.playing;
  }

  /** What the view shows now: {mode: 'live' | 'replay', frame?, length?, state}. */
  function viewState() {
    const r = app.replay;
    if (r) return { mode: 'replay', frame: r.frame, length: r.length, episode_id: r.episode.id, state: Array.from(r.states.subarray(r.frame * r.dim, (r.frame + 1) * r.dim)) };
    if (!app.trainer) return { mode: 'none', state: null };
    return { mode: 'live', state: app.trainer.view.state(), info: app.trainer.view.info() };
  }

  /** The run is being replaced: its replay goes with it. */
  function runReplaced() {
    app.replay = null;
    ui.showReplay(null);
  }

  /** A new run is set up: its live robot and its (restored) episodes. */
  function runReady() {
    showLiveCaption();
    refreshReplayList();
  }

  const replaying = () => app.replay !== null;

  return { draw, refreshReplayList, replay, replaySeek, replayStop, replayToggle, replaying, runReady, runReplaced, showLiveCaption, viewState };
}
