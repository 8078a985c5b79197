from crampwatch.cli import main

raise SystemExit(main())
