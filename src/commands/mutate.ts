// Placeholder until this command is implemented.
export async function main(_argv: string[]): Promise<number> {
  process.stderr.write('premigration-hooks: not implemented yet\n');
  return 2;
}
