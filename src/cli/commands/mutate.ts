/**
 * `premigration-hooks mutate`: the chain as a filter. Domain XML on stdin, the XML the target must
 * run on stdout (the input itself, byte for byte, when nothing changes). A stable contract for
 * scripts: exit 0 with the XML, or exit 2 with one line on stderr and nothing on stdout.
 */
import { runChain } from '../../core/chain.js';
import { reportUsageError } from '../../shared/flags.js';
import { chainOptionsFor, chainUsage, contextFor, hostFor, parseChainFlags, readStdin } from './chain-flags.js';

export async function main(argv: string[]): Promise<number> {
  try {
    const flags = parseChainFlags(argv);
    if (flags === 'help') {
      process.stdout.write(chainUsage('mutate', 'Rewrite a libvirt domain XML for this migration target; print the result.'));
      return 0;
    }
    const ctx = contextFor(flags, hostFor(flags));
    const xml = await readStdin();
    const result = runChain(xml, ctx, chainOptionsFor(flags));
    process.stdout.write(result.xml);
    return 0;
  } catch (err) {
    return reportUsageError('mutate', err);
  }
}
