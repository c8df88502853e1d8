"""Classification of chest X-rays (NORMAL / PNEUMONIA): data, and later models, training and evaluation."""
