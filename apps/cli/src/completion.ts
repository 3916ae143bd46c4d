import type { Command, Option } from 'commander';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

interface CommandNode {
  /** Words from the root: [] for rotor itself, ['leases', 'list'] … */
  path: string[];
  subcommands: string[];
  options: { flags: string[]; choices?: readonly string[] }[];
}

const visibleOptions = (command: Command) =>
  command.options
    .filter((option: Option) => !option.hidden)
    .map((option: Option) => ({
      flags: [option.long, option.short].filter((flag): flag is string => Boolean(flag)),
      ...(option.argChoices ? { choices: option.argChoices } : {}),
    }));

/** Every command of the tree with what may follow it, read from the program itself, so completion never drifts from it. */
export function commandTree(program: Command): CommandNode[] {
  const globals = visibleOptions(program);
  const nodes: CommandNode[] = [];
  const visit = (command: Command, path: string[]) => {
    const subcommands = command.commands.map((sub) => sub.name());
    nodes.push({
      path,
      subcommands: [...subcommands, ...(path.length === 0 ? ['help'] : [])],
      options: [...visibleOptions(command), ...(path.length ? globals : [])],
    });
    for (const sub of command.commands) visit(sub, [...path, sub.name()]);
  };
  visit(program, []);
  return nodes;
}

/** The completion script for `shell`: `source <(rotor completion bash)`, `rotor completion fish | source`. */
export function completionScript(program: Command, shell: Shell): string {
  const nodes = commandTree(program);
  if (shell === 'fish') return fishScript(nodes);
  const cases = nodes
    .map((node) => {
      const words = [...node.subcommands, ...node.options.flatMap((option) => option.flags)].join(' ');
      const choices = node.options
        .filter((option) => option.choices)
        .map((option) => `        ${option.flags.join('|')}) COMPREPLY=($(compgen -W "${option.choices!.join(' ')}" -- "$cur")); return ;;`)
        .join('\n');
      return `    "${node.path.join(' ')}")\n      case "$prev" in\n${choices}${choices ? '\n' : ''}      esac\n      COMPREPLY=($(compgen -W "${words}" -- "$cur")) ;;`;
    })
    .join('\n');
  const bash = `# rotor completion (bash): source <(rotor completion bash)
_rotor() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" path="" word i
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    [[ "$word" == -* ]] && continue
    case " $(_rotor_subcommands "$path") " in *" $word "*) path="\${path:+$path }$word" ;; esac
  done
  case "$path" in
${cases}
  esac
}
_rotor_subcommands() {
  case "$1" in
${nodes.map((node) => `    "${node.path.join(' ')}") echo "${node.subcommands.join(' ')}" ;;`).join('\n')}
  esac
}
complete -o default -F _rotor rotor
`;
  // zsh runs the bash function through bashcompinit.
  return shell === 'zsh'
    ? `# rotor completion (zsh): source <(rotor completion zsh)\nautoload -U +X bashcompinit && bashcompinit\n${bash}`
    : bash;
}

function fishScript(nodes: CommandNode[]): string {
  const lines = ['# rotor completion (fish): rotor completion fish | source', 'complete -c rotor -f'];
  const condition = (path: string[]) => {
    if (path.length === 0) return '__fish_use_subcommand';
    return path.map((word) => `__fish_seen_subcommand_from ${word}`).join('; and ');
  };
  for (const node of nodes) {
    const when = condition(node.path);
    for (const sub of node.subcommands) lines.push(`complete -c rotor -n '${when}' -a ${sub}`);
    for (const option of node.options) {
      const long = option.flags.find((flag) => flag.startsWith('--'));
      if (!long) continue;
      lines.push(`complete -c rotor -n '${when}' -l ${long.slice(2)}${option.choices ? ` -xa '${option.choices.join(' ')}'` : ''}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
