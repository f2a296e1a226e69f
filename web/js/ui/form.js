// The hyperparameter form, built from Config.field_specs: one labelled input per field the chosen algorithm
// reads (a select for a field with choices), its doc and range beside it, an inline error under it; the step
// budget goes to its own slot by the progress bar.
import { fieldLabel, fieldText } from '../params.js';

// What a choice field's options say (Config.field_specs gives the values).
const CHOICE_LABELS = { ddqn: 'Double DQN (ddqn)', pqn: 'PQN, parallelised Q-learning (pqn)' };

export class ConfigForm {
  /** doc: the document; els: the page's elements by id; onField(name, text, final): a field was edited. */
  constructor({ doc, els, onField }) {
    this.doc = doc;
    this.els = els;
    this.onField = onField;
    this.inputs = {}; // config field name -> its input (the same object for the form's life)
    this.specsKey = null;
  }

  /**
   * Build the fields of Config.field_specs(env, algorithm), skipping those in `skip` (they have their own
   * controls) and those the specs' algorithm does not read. The same specs twice build nothing.
   */
  build(specs, skip) {
    const key = JSON.stringify(specs);
    if (key === this.specsKey) return;
    this.specsKey = key;
    this.els['hyper-fields'].replaceChildren();
    this.els['budget-slot'].replaceChildren();
    for (const name of Object.keys(this.inputs)) delete this.inputs[name];
    const algorithm = specs.find((spec) => spec.name === 'algorithm')?.default;
    for (const spec of specs) {
      if (skip.includes(spec.name) || (algorithm && spec.algorithms && !spec.algorithms.includes(algorithm))) continue;
      this._field(spec);
    }
  }

  _field(spec) {
    const { doc, els } = this;
    const label = doc.createElement('label');
    label.className = 'field';
    label.title = spec.doc;
    const name = doc.createElement('span');
    name.textContent = fieldLabel(spec.name);
    if (fieldLabel(spec.name) !== spec.name && spec.name !== 'total_timesteps') {
      const code = doc.createElement('code');
      code.className = 'cfg-name';
      code.textContent = spec.name; // the Config name: what the URL, the command line and the docs use
      name.append(' ', code);
    }
    const input = doc.createElement(spec.choices ? 'select' : 'input');
    input.id = `cfg-${spec.name}`;
    input.name = spec.name;
    if (spec.choices) {
      input.append(...spec.choices.map((choice) => new Option(CHOICE_LABELS[choice] ?? choice, choice)));
    } else {
      input.size = 9;
      input.placeholder = fieldText(spec.default);
    }
    input.setAttribute('aria-describedby', `cfg-${spec.name}-error`);
    const unit = doc.createElement('span');
    unit.className = 'unit';
    const range = spec.min != null ? ` [${spec.min} … ${spec.max}]` : '';
    unit.textContent = `${spec.doc}${range}`;
    const error = doc.createElement('span');
    error.className = 'field-error';
    error.id = `cfg-${spec.name}-error`;
    input.addEventListener('input', () => this.onField(spec.name, input.value, false));
    input.addEventListener('change', () => this.onField(spec.name, input.value, true));
    this.inputs[spec.name] = input;
    if (spec.name === 'total_timesteps') {
      const steps = doc.createElement('span');
      steps.textContent = 'env steps';
      label.append(name, input, steps, error);
      els['budget-slot'].append(label);
    } else {
      label.append(name, input, unit, error);
      els['hyper-fields'].append(label);
    }
  }

  /** Show the config: explicit overrides as values, the defaults as placeholders (a choice shows its value). */
  show(cfg, defaults) {
    for (const [name, input] of Object.entries(this.inputs)) {
      if (input.tagName === 'SELECT') {
        input.value = fieldText(cfg[name] ?? defaults?.[name]); // always one of the choices, never blank
        continue;
      }
      if (defaults && name in defaults) input.placeholder = fieldText(defaults[name]);
      if (this.doc.activeElement !== input) input.value = fieldText(cfg[name]);
    }
  }

  /** Put `text` in field `name` as it was given (a rejected URL value the user is to fix). */
  setText(name, text) {
    if (this.inputs[name]) this.inputs[name].value = text;
  }
}
