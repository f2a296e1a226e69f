// Drawing one environment state on a 2D canvas: draw(ctx, state, spec), one function per env kind.
// `state` is one row of env.state, `spec` is env.draw_spec() (sizes in metres, state_index names).

const COLORS = {
  background: '#f7f8fa',
  ground: '#9aa3ad',
  body: '#2f5d8a',
  accent: '#d9822b',
  joint: '#1d2733',
  target: '#3a9a5b',
  faint: '#c9d0d8',
  text: '#5a6572',
};

/** Take the drawing colours from the page's CSS custom properties (called when the theme changes). */
export function setDrawColors(style) {
  const pick = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
  COLORS.background = pick('--canvas', COLORS.background);
  COLORS.ground = pick('--ground', COLORS.ground);
  COLORS.body = pick('--accent', COLORS.body);
  COLORS.accent = pick('--orange', COLORS.accent);
  COLORS.joint = pick('--ink', COLORS.joint);
  COLORS.target = pick('--green', COLORS.target);
  COLORS.faint = pick('--faint', COLORS.faint);
  COLORS.text = pick('--muted', COLORS.text);
}

/** Clear the canvas and draw `state` as described by `spec`; unknown kinds get a short note. */
export function draw(ctx, state, spec) {
  const { width, height } = ctx.canvas;
  ctx.save();
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = COLORS.background;
  ctx.fillRect(0, 0, width, height);
  ctx.restore();
  if (!state || !spec) return;
  const drawer = DRAWERS[spec.kind];
  if (drawer) drawer(ctx, state, spec, width, height);
  else label(ctx, `no drawing for "${spec.kind}"`, 12, 24);
}

function get(state, spec, name) {
  return state[spec.state_index[name]];
}

function label(ctx, text, x, y) {
  ctx.fillStyle = COLORS.text;
  ctx.font = `${Math.round(ctx.canvas.height / 24)}px system-ui, sans-serif`;
  ctx.fillText(text, x, y);
}

function line(ctx, x0, y0, x1, y1, color, width) {
  ctx.strokeStyle = color;
  ctx.lineWidth = width;
  ctx.lineCap = 'round';
  ctx.beginPath();
  ctx.moveTo(x0, y0);
  ctx.lineTo(x1, y1);
  ctx.stroke();
}

function disc(ctx, x, y, r, color) {
  ctx.fillStyle = color;
  ctx.beginPath();
  ctx.arc(x, y, r, 0, 2 * Math.PI);
  ctx.fill();
}

/** Cart and pole (Gymnasium CartPole): theta 0 is upright, positive leans toward +x. */
function drawCartpole(ctx, state, spec, width, height) {
  const x = get(state, spec, 'x');
  const theta = get(state, spec, 'theta');
  const worldWidth = 2 * spec.x_threshold_m * 1.15;
  const scale = Math.min(width / worldWidth, (height * 0.75) / (spec.pole_length_m + spec.cart_height_m) / 1.2);
  const groundY = height * 0.78;
  const cx = width / 2 + x * scale;
  const cartW = spec.cart_width_m * scale;
  const cartH = spec.cart_height_m * scale;
  line(ctx, 0, groundY, width, groundY, COLORS.ground, 2);
  for (const edge of [-spec.x_threshold_m, spec.x_threshold_m]) {
    const ex = width / 2 + edge * scale;
    line(ctx, ex, groundY - 10, ex, groundY + 10, COLORS.faint, 3);
  }
  const cartY = groundY - cartH;
  ctx.fillStyle = COLORS.body;
  ctx.fillRect(cx - cartW / 2, cartY, cartW, cartH);
  const pivotY = cartY + cartH * 0.25;
  const length = spec.pole_length_m * scale;
  line(ctx, cx, pivotY, cx + length * Math.sin(theta), pivotY - length * Math.cos(theta), COLORS.accent, Math.max(4, cartH * 0.18));
  disc(ctx, cx, pivotY, Math.max(3, cartH * 0.12), COLORS.joint);
}

/** Acrobot (Gymnasium Acrobot): theta1 0 hangs straight down; the goal is the tip above the line. */
function drawAcrobot(ctx, state, spec, width, height) {
  const t1 = get(state, spec, 'theta1');
  const t2 = get(state, spec, 'theta2');
  const reach = spec.link_length_1_m + spec.link_length_2_m;
  const scale = (Math.min(width, height) / (2 * reach)) * 0.9;
  const ox = width / 2;
  const oy = height / 2;
  const x1 = spec.link_length_1_m * Math.sin(t1);
  const y1 = -spec.link_length_1_m * Math.cos(t1);
  const x2 = x1 + spec.link_length_2_m * Math.sin(t1 + t2);
  const y2 = y1 - spec.link_length_2_m * Math.cos(t1 + t2);
  const goalY = oy - spec.goal_height_m * scale;
  ctx.setLineDash([6, 6]);
  line(ctx, ox - reach * scale, goalY, ox + reach * scale, goalY, COLORS.target, 2);
  ctx.setLineDash([]);
  const w = Math.max(5, scale * 0.1);
  line(ctx, ox, oy, ox + x1 * scale, oy - y1 * scale, COLORS.body, w);
  line(ctx, ox + x1 * scale, oy - y1 * scale, ox + x2 * scale, oy - y2 * scale, COLORS.accent, w);
  disc(ctx, ox, oy, w * 0.8, COLORS.joint);
  disc(ctx, ox + x1 * scale, oy - y1 * scale, w * 0.7, COLORS.joint);
}

/** Two-wheeled balancing robot on a track, with its moving target. The robot is drawn `zoom` times larger. */
function drawBalancebot(ctx, state, spec, width, height) {
  const x = get(state, spec, 'x');
  const pitch = get(state, spec, 'pitch');
  const target = get(state, spec, 'target');
  const voltage = get(state, spec, 'voltage');
  const half = spec.track_half_width_m;
  const scale = width / (2 * half * 1.1);
  const zoom = 3;
  const groundY = height * 0.8;
  const px = (m) => width / 2 + m * scale;
  line(ctx, px(-half), groundY, px(half), groundY, COLORS.ground, 2);
  for (const edge of [-half, half]) line(ctx, px(edge), groundY - 10, px(edge), groundY + 10, COLORS.faint, 3);
  line(ctx, px(target), groundY + 4, px(target), groundY - height * 0.55, COLORS.target, 2);
  disc(ctx, px(target), groundY - height * 0.55, 5, COLORS.target);
  const r = spec.wheel_radius_m * scale * zoom;
  const axleX = px(x);
  const axleY = groundY - r;
  const bodyH = spec.body_height_m * scale * zoom;
  const bodyW = Math.max(6, (spec.body_depth_m ?? spec.body_width_m ?? 0.04) * scale * zoom);
  ctx.save();
  ctx.translate(axleX, axleY);
  ctx.rotate(pitch);
  ctx.fillStyle = COLORS.body;
  ctx.fillRect(-bodyW / 2, -bodyH, bodyW, bodyH);
  ctx.restore();
  disc(ctx, axleX, axleY, r, COLORS.joint);
  const spoke = x / spec.wheel_radius_m;
  line(ctx, axleX, axleY, axleX + r * 0.8 * Math.sin(spoke), axleY - r * 0.8 * Math.cos(spoke), COLORS.faint, 2);
  const vmax = spec.max_voltage_v || 8;
  const barW = (voltage / vmax) * width * 0.15;
  ctx.fillStyle = COLORS.accent;
  ctx.fillRect(width / 2, height - 14, barW, 6);
  if (width > 200) label(ctx, `robot drawn ${zoom}x · motor ${voltage.toFixed(1)} V`, 10, height * 0.08);
}

const DRAWERS = Object.freeze({ cartpole: drawCartpole, acrobot: drawAcrobot, balancebot: drawBalancebot });

// What each drawing shows, in words (the caption under the view): its marks and colours.
const LEGENDS = Object.freeze({
  cartpole: 'The blue cart moves left or right to keep the orange pole upright; the grey ticks are the ends of the track (the episode ends past them, or when the pole leans over 12°).',
  acrobot: 'Two links hang from a fixed joint; only the middle joint has a motor. The goal: swing the tip of the orange link above the dashed green line.',
  balancebot: 'The blue body balances on its wheel (drawn 3x larger) and drives to the green marker, a target that jumps now and then; the orange bar at the bottom is the motor voltage (right of centre: forward).',
});

/** The caption text of the drawing of `kind`: what its marks mean ('' for an unknown kind). */
export function legendOf(kind) {
  return LEGENDS[kind] ?? '';
}
