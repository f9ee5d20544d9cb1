"""Research tools: the supply-chain simulator and the attacks injected into it, with ground
truth for evaluating detection."""
