# The start of every Tatoeba recipe, sourced first (`source "$(dirname "$0")/tatoeba_env.sh"`):
# strict mode, the repository root as the working folder, recipes/lib.sh, and where the inputs
# are, each overridable from the environment: SHARED (the shared data), DATA (the prepared
# Tatoeba corpus, reencoder-data --tatoeba) and TED (IWSLT15 TED tst2010 encoded for it, lib.sh's
# ted_data).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source recipes/lib.sh

SHARED=${SHARED:-../shared/data}
DATA=${DATA:-work/data/tatoeba}
TED=${TED:-work/data/ted-tst2010}
