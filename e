timeout: failed to run command ‘./sb’: No such file or directory
