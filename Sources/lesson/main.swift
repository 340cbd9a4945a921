import ConvNetCore
print("lesson: under construction")
