package ambientflow

import (
	"fmt"

	"github.com/flowdiff/flowdiff-go/core/flow"
)

// Config is AmbientFlow's own settings (a pipeline's train.ambientflow); the posterior network
// is the pipeline's train.flow and the schedule (steps, batch, warm-up, decay, clipping,
// checkpoints) is the train section's. Defaults are the tags; the starting points are the
// authors' MNIST settings (scripts/training/train_ambient_mnist.sh: both learning rates 1e-3).
type Config struct {
	Lambda      float64     `yaml:"lambda" default:"1" check:">0" doc:"weight of the data term -log p(y|x); 1 is the variational bound on -log p(y); the authors used 0.1-2.3"`
	Samples     int         `yaml:"samples" default:"2" check:">=1" doc:"posterior samples K per observation and step (the authors: 10 on MNIST, 2 on CelebA)"`
	PriorLR     float64     `yaml:"prior_lr" default:"0.001" check:">0" doc:"Adam learning rate of the Glow prior (the authors' MNIST value)"`
	PosteriorLR float64     `yaml:"posterior_lr" default:"0.001" check:">0" doc:"Adam learning rate of the conditional flow (the authors' MNIST value)"`
	Temperature float64     `yaml:"temperature" default:"1" check:">0" doc:"temperature of the prior samples (every latent's scale times it; 1 is the model; the authors also show 0.5 and 0.7)"`
	Prior       flow.Config `yaml:"prior" doc:"the unconditional Glow prior (split must stay true: the learned split priors need it)"`
}

// Check returns what is wrong with c for images of h x w x ch, where the posterior flow is post.
func (c Config) Check(post flow.Config, h, w, ch int) error {
	if !c.Prior.Split || c.Prior.Levels < 2 {
		return fmt.Errorf("train.ambientflow.prior: the Glow prior needs split: true and levels >= 2 (its learned split priors), got split %v, levels %d", c.Prior.Split, c.Prior.Levels)
	}
	if h > 0 {
		if err := c.Prior.Validate(h, w, ch); err != nil {
			return fmt.Errorf("train.ambientflow.prior: %w", err)
		}
		if err := post.Validate(h, w, ch); err != nil {
			return fmt.Errorf("train.flow: %w", err)
		}
	}
	return nil
}
